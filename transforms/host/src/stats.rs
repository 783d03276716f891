//! What the host counts and serves on `/metrics`: records in, records out per output, batches,
//! traps, and two latency histograms (time inside the VM per batch; time from a record's
//! broker timestamp until its outputs are acknowledged).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A Prometheus histogram with fixed buckets, updated lock-free.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds, seconds, ascending; `+Inf` is implicit.
    bounds: &'static [f64],
    /// Observations ≤ each bound (non-cumulative; the last slot is `+Inf`).
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

/// 100 µs .. 10 s: a batch in the VM takes well under a millisecond, a record's trip through
/// the host up to the linger time plus a broker round trip, and a backlog much longer.
const LATENCY_BOUNDS: &[f64] = &[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new(LATENCY_BOUNDS)
    }
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = self.bounds.iter().position(|b| secs <= *b).unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// `_bucket` (cumulative), `_sum` and `_count` lines.
    fn render(&self, name: &str, labels: &str, out: &mut String) {
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            let le = self.bounds.get(i).map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            out.push_str(&format!("{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}\n"));
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        out.push_str(&format!("{name}_sum{{{labels}}} {sum}\n{name}_count{{{labels}}} {cumulative}\n"));
    }
}

/// Counters the host exposes.
#[derive(Debug, Default)]
pub struct RunnerStats {
    pub records_in: AtomicU64,
    pub records_out: Vec<AtomicU64>,
    pub batches: AtomicU64,
    pub process_micros: AtomicU64,
    /// Time inside the VM per batch.
    pub batch_seconds: Histogram,
    /// From each input record's broker timestamp to the acknowledgement of its outputs.
    pub record_delay_seconds: Histogram,
}

impl RunnerStats {
    pub fn new(outputs: usize) -> RunnerStats {
        RunnerStats { records_out: (0..outputs).map(|_| AtomicU64::new(0)).collect(), ..Default::default() }
    }

    /// Everything in Prometheus text format.
    pub fn render(&self, transform: &str, input: &str, outputs: &[String], traps: u64) -> String {
        let labels = format!("transform=\"{transform}\",input=\"{input}\"");
        let mut s = String::new();
        let head = |s: &mut String, name: &str, kind: &str, help: &str| {
            s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        };
        let mut counter = |name: &str, help: &str, lines: Vec<(String, u64)>| {
            head(&mut s, name, "counter", help);
            for (extra, v) in lines {
                s.push_str(&format!("{name}{{{labels}{extra}}} {v}\n"));
            }
        };
        let one = |c: &AtomicU64| vec![(String::new(), c.load(Ordering::Relaxed))];
        counter("tickwatch_transform_records_in_total", "Records handed to the transform.", one(&self.records_in));
        counter(
            "tickwatch_transform_records_out_total",
            "Records the transform wrote, per output topic.",
            outputs
                .iter()
                .zip(&self.records_out)
                .map(|(o, c)| (format!(",output=\"{o}\""), c.load(Ordering::Relaxed)))
                .collect(),
        );
        counter("tickwatch_transform_batches_total", "Batches processed and committed.", one(&self.batches));
        counter(
            "tickwatch_transform_process_microseconds_total",
            "Time spent inside the transform, microseconds.",
            one(&self.process_micros),
        );
        counter("tickwatch_transform_traps_total", "Traps of the transform.", vec![(String::new(), traps)]);
        for (name, help, h) in [
            ("tickwatch_transform_batch_seconds", "Time inside the transform per batch.", &self.batch_seconds),
            (
                "tickwatch_transform_record_delay_seconds",
                "From an input record's broker timestamp to the acknowledgement of its outputs.",
                &self.record_delay_seconds,
            ),
        ] {
            head(&mut s, name, "histogram", help);
            h.render(name, &labels, &mut s);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_in_inf() {
        let stats = RunnerStats::new(2);
        stats.batch_seconds.observe(Duration::from_micros(50));
        stats.batch_seconds.observe(Duration::from_millis(3));
        stats.batch_seconds.observe(Duration::from_secs(60));
        let text = stats.render("tw", "raw", &["a".into(), "b".into()], 0);
        let line =
            |prefix: &str| text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}\n{text}"));
        let le =
            |b: &str| format!("tickwatch_transform_batch_seconds_bucket{{transform=\"tw\",input=\"raw\",le=\"{b}\"}}");
        assert!(line(&le("0.0001")).ends_with(" 1"));
        assert!(line(&le("0.001")).ends_with(" 1"));
        assert!(line(&le("0.005")).ends_with(" 2"));
        assert!(line(&le("10")).ends_with(" 2"));
        assert!(line(&le("+Inf")).ends_with(" 3"));
        assert!(line("tickwatch_transform_batch_seconds_count").ends_with(" 3"));
        assert!(line("tickwatch_transform_batch_seconds_sum").ends_with(" 60.00305"));
        assert!(
            line("tickwatch_transform_records_out_total{transform=\"tw\",input=\"raw\",output=\"b\"}").ends_with(" 0")
        );
        assert_eq!(stats.record_delay_seconds.count(), 0);
    }
}
