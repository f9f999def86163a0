//! The server under test: the `easel` binary as a child process on 127.0.0.1:0 (so its memory can
//! be read from `/proc`), over a fresh SQLite file or a freshly created PostgreSQL database.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use sqlx::{Connection as _, Executor as _, PgConnection};

use crate::text::{picked_address, with_database};

/// Longest the server may take to log its address.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Log lines kept for a failure message.
const LOG_TAIL: usize = 200;

/// `easel serve` running as a child process; killed when dropped.
pub struct ServerProcess {
    /// `127.0.0.1:PORT`, as the server logged it.
    pub addr: String,
    log: Arc<Mutex<VecDeque<String>>>,
    child: Child,
    /// How long a stop waits for the process to end by itself after SIGTERM.
    stop_timeout: Duration,
}

impl ServerProcess {
    /// Starts `easel serve` on `database_url`, with its files and assets under `dir`, and waits
    /// for the log line naming its address. `log_filter` is its `RUST_LOG`; `wrapper` a command
    /// that runs it (`valgrind --tool=callgrind`, for profiling).
    pub fn start(
        database_url: &str,
        dir: &Path,
        log_filter: &str,
        wrapper: Option<&str>,
    ) -> ServerProcess {
        let binary = env!("CARGO_BIN_EXE_easel");
        let mut command = match wrapper.map(|w| w.split_whitespace().collect::<Vec<_>>()) {
            Some(words) if !words.is_empty() => {
                let mut command = Command::new(words[0]);
                command.args(&words[1..]).arg(binary);
                command
            }
            _ => Command::new(binary),
        };
        command.current_dir(dir).env_remove("DATABASE_URL");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("EASEL_") {
                command.env_remove(key);
            }
        }
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("EASEL_LISTEN", "127.0.0.1:0")
            .env("EASEL_DATA_DIR", dir)
            .env(
                "EASEL_ASSET_STORE",
                format!("file://{}/assets", dir.display()),
            )
            .env("RUST_LOG", log_filter)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("cannot start the easel binary");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn({
            let log = log.clone();
            move || {
                // Keeps draining for the life of the process, so the server never blocks on a
                // full pipe; only the last lines are kept.
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    {
                        let mut log = log.lock().unwrap();
                        if log.len() == LOG_TAIL {
                            log.pop_front();
                        }
                        log.push_back(line.clone());
                    }
                    tx.send(line).ok();
                }
            }
        });

        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = picked_address(&line) {
                        break addr;
                    }
                }
                Err(_) => {
                    child.kill().ok();
                    child.wait().ok();
                    panic!(
                        "easel logged no address within {START_TIMEOUT:?}; log:\n{}",
                        log_text(&log)
                    );
                }
            }
        };
        ServerProcess {
            addr,
            log,
            child,
            stop_timeout: if wrapper.is_some() {
                Duration::from_secs(600)
            } else {
                Duration::from_secs(10)
            },
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The last lines the server logged.
    pub fn log_tail(&self) -> String {
        log_text(&self.log)
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Peak resident memory since start or the last [`Self::reset_peak`] (`VmHWM`), in KiB.
    pub fn peak_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// Resets the peak (`VmHWM`) to the current resident size, so that the next phase's peak can
    /// be read on its own (writing 5 to `/proc/PID/clear_refs`, Linux 4.0+).
    pub fn reset_peak(&self) {
        if let Err(e) = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5") {
            eprintln!("note: cannot reset the server's peak RSS: {e}");
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the server's last log lines:\n{}", self.log_tail());
        }
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SIGTERM first: the server shuts down gracefully, and a profiler around it writes its
        // output; SIGKILL only if it does not end in time.
        let asked = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + self.stop_timeout;
        while asked && Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn log_text(log: &Mutex<VecDeque<String>>) -> String {
    log.lock()
        .unwrap()
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A PostgreSQL database made for one benchmark run; [`ScratchPostgres::drop_database`]
/// removes it.
pub struct ScratchPostgres {
    /// The URL of the new database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl ScratchPostgres {
    /// Creates a fresh database on the server of `admin_url`.
    pub async fn create(admin_url: &str) -> ScratchPostgres {
        let name = format!("easel_bench_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("EASEL_BENCH_POSTGRES_URL does not answer: {e}"));
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("CREATE DATABASE");
        admin.close().await.ok();
        ScratchPostgres {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// Drops the database, closing whatever still uses it.
    pub async fn drop_database(self) {
        match PgConnection::connect(&self.admin_url).await {
            Ok(mut admin) => {
                let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                if let Err(e) = admin.execute(sqlx::AssertSqlSafe(sql)).await {
                    eprintln!("note: cannot drop the database {}: {e}", self.name);
                }
                admin.close().await.ok();
            }
            Err(e) => eprintln!("note: cannot drop the database {}: {e}", self.name),
        }
    }
}
