//! The `easel` binary: everything happens in the library's command line.

/// mimalloc: GraphQL answers and requests are many small allocations; the system allocator
/// spent about a third of a large save's cycles in `malloc` and `free` (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    easel::cli::run().await
}
