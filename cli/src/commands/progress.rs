//! A progress bar for the long commands (backfills).

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// A progress bar with an ETA on stderr: redrawn in place on a terminal, one line per
/// chunk otherwise (logs).
pub struct Progress {
    unit: &'static str,
    total: i64,
    resumed_at: i64,
    started: Instant,
    tty: bool,
}

impl Progress {
    pub fn new(unit: &'static str, total: i64, done: i64) -> Progress {
        let p =
            Progress { unit, total, resumed_at: done, started: Instant::now(), tty: std::io::stderr().is_terminal() };
        p.draw(done);
        p
    }

    pub fn advance(&mut self, done: i64) {
        self.draw(done);
    }

    fn draw(&self, done: i64) {
        const WIDTH: i64 = 30;
        let filled = if self.total > 0 { done * WIDTH / self.total } else { WIDTH };
        let bar: String = (0..WIDTH).map(|i| if i < filled { '#' } else { '.' }).collect();
        let rate = (done - self.resumed_at) as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let eta = if rate > 0.0 { format!("{:.0}s", (self.total - done) as f64 / rate) } else { "?".into() };
        let line =
            format!("[{bar}] {:>3}% {done}/{} {}, ETA {eta}", done * 100 / self.total.max(1), self.total, self.unit);
        let mut err = std::io::stderr();
        let _ = if self.tty { write!(err, "\r{line}") } else { writeln!(err, "{line}") };
    }

    pub fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
