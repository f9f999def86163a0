//! The `easel` binary as a child process: a clean environment, commands run to their end with a
//! time limit, and `easel serve` on `127.0.0.1:0` with the address it logs.

pub use super::text::picked_address;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Longest a child process may run (or take to start serving) before the test gives up on it.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// The `easel` binary with a clean environment: no `DATABASE_URL` or `EASEL_*` from the host,
/// plain logs, and `dir` as working directory so no `./data` is made in the repository.
pub fn easel(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_easel"));
    command.current_dir(dir).env_remove("DATABASE_URL");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("EASEL_") {
            command.env_remove(key);
        }
    }
    command
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Runs a command to its end without blocking the async runtime, killing it when it outlives
/// [`CHILD_TIMEOUT`].
pub async fn run_async(command: Command) -> Output {
    let described = format!("{command:?}");
    let mut command = tokio::process::Command::from(command);
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().unwrap();
    match tokio::time::timeout(CHILD_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => output.unwrap(),
        Err(_) => panic!("{described} did not finish within {CHILD_TIMEOUT:?}"),
    }
}

/// Kills a child on drop, so a failing test leaves no process behind.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
}

/// `easel serve` running as a child process; killed when dropped.
pub struct ServerProcess {
    /// `127.0.0.1:PORT`, as the server logged it.
    pub addr: String,
    /// Every line the server has written to stderr so far.
    pub log: Arc<Mutex<Vec<String>>>,
    child: KillOnDrop,
}

impl ServerProcess {
    /// Starts `command` (an `easel serve` listening on port 0, typically from [`easel`]) and
    /// waits for the log line naming its address. Its stderr keeps being read for the life of
    /// the process, so the server never blocks on a full pipe.
    pub fn start(mut command: Command) -> ServerProcess {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = KillOnDrop(command.spawn().unwrap());
        let stderr = child.0.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn({
            let log = log.clone();
            move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    log.lock().unwrap().push(line.clone());
                    // The receiver is gone once the address is known; keep draining.
                    tx.send(line).ok();
                }
            }
        });

        let deadline = Instant::now() + CHILD_TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = picked_address(&line) {
                        break addr;
                    }
                }
                Err(_) => panic!(
                    "no listening address logged within {CHILD_TIMEOUT:?}; log:\n{}",
                    log.lock().unwrap().join("\n")
                ),
            }
        };
        ServerProcess { addr, log, child }
    }

    /// The process id, e.g. to read `/proc/{pid}/status`.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The log so far, one line each.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}
