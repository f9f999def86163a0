//! Progress of long commands (`export`, `restore`, `db copy`, `assets migrate`): a bar on a
//! terminal, plain lines otherwise (logs, pipes, tests), and the same summary lines either way.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// One counter shown as a bar on a terminal; elsewhere each step a caller reports is a line.
pub struct Meter {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Meter {
    /// A bar when standard error is a terminal, plain lines on standard output otherwise.
    pub fn new() -> Self {
        Self::with_terminal(std::io::stderr().is_terminal())
    }

    /// A bar (`terminal`) or plain lines.
    pub fn with_terminal(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} {prefix} {elapsed} {msg}")
            {
                bar.set_style(style);
            }
            bar
        });
        Meter {
            bar,
            started: Instant::now(),
        }
    }

    /// Starts a new phase of `len` steps of `what` (rows of a table, objects, ...).
    pub fn phase(&self, what: &str, len: u64) {
        match &self.bar {
            Some(bar) => {
                bar.reset();
                bar.set_length(len);
                bar.set_prefix(what.to_owned());
                bar.set_message("");
            }
            None => println!("{what}: {len} to do"),
        }
    }

    /// `steps` more done; `line` is printed when there is no bar (the bar shows `message`).
    pub fn step(&self, steps: u64, line: impl FnOnce() -> String) {
        match &self.bar {
            Some(bar) => bar.inc(steps),
            None => println!("{}", line()),
        }
    }

    /// `steps` more done, shown on the bar only (for steps too many to print each).
    pub fn tick(&self, steps: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(steps);
        }
    }

    /// A line above the bar (or a plain line).
    pub fn say(&self, line: impl Into<String>) {
        let line = line.into();
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    /// Removes the bar; summaries printed after this stay on screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Time since the meter was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Default for Meter {
    fn default() -> Self {
        Self::new()
    }
}

/// `bytes` over `elapsed` as `12.3 MiB/s`.
pub fn throughput(bytes: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(1e-6);
    format!("{:.1} MiB/s", bytes as f64 / 1_048_576.0 / seconds)
}
