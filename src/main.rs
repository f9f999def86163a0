//! The `easel` binary: everything happens in the library's command line.

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
        .block_on(easel::cli::run())
}

/// glibc gives threads their own malloc arenas, up to eight per core, and sqlx runs every
/// SQLite connection on a thread of its own. After a large load or save, a small write landed on
/// an arena the large one had left trimmed and paid 10–25 ms of page faults to grow it again;
/// with two arenas it takes 2–3 ms, and a 1 GiB upload still grows the peak RSS by only
/// 20 MiB (see BENCHMARKS.md). Set before any thread starts.
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting, and no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
