//! The `easel` binary: everything happens in the library's command line.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    easel::cli::run().await
}
