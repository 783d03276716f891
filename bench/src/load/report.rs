//! What a load run reports: per target, every outcome counted and the latencies kept whole.

use super::{Load, Outcome, Sample};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Sorted latencies in microseconds.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    pub(super) sorted_us: Vec<u64>,
}

impl Latencies {
    pub fn from_micros(mut us: Vec<u64>) -> Latencies {
        us.sort_unstable();
        Latencies { sorted_us: us }
    }

    pub fn len(&self) -> usize {
        self.sorted_us.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted_us.is_empty()
    }

    /// The nearest-rank percentile `q` (0 < q ≤ 1): the smallest value with at least
    /// `q` of all values at or below it. Zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.sorted_us.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.sorted_us.len() as f64).ceil() as usize;
        Duration::from_micros(self.sorted_us[rank.clamp(1, self.sorted_us.len()) - 1])
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.sorted_us.last().copied().unwrap_or(0))
    }

    pub fn mean(&self) -> Duration {
        if self.sorted_us.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_micros(self.sorted_us.iter().sum::<u64>() / self.sorted_us.len() as u64)
    }
}

/// What one target got during the recorded part of a run.
#[derive(Debug, Clone)]
pub struct TargetReport {
    pub name: String,
    pub url: String,
    /// Due time → end of body, for every request that got an HTTP answer (any status).
    pub latency: Latencies,
    /// Send → end of body, for the same requests (what a closed-loop tool would report).
    pub service: Latencies,
    /// Due time → send, for every request sent.
    pub send_lag: Latencies,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Transport failures by kind (`timeout`, `connect`, `body`, `request`, `other`).
    pub errors: BTreeMap<&'static str, u64>,
    /// Due, but still queued when the grace period ran out.
    pub unsent: u64,
    /// Body bytes received.
    pub bytes: u64,
}

impl TargetReport {
    /// Requests that were due in the recorded part: answered, failed or unsent.
    pub fn due(&self) -> u64 {
        self.answered() + self.failed() + self.unsent
    }

    pub fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Answers with a status outside 200..=299.
    pub fn non_2xx(&self) -> u64 {
        self.statuses.iter().filter(|(s, _)| !(200..300).contains(*s)).map(|(_, n)| n).sum()
    }

    /// Every outcome that is not a 2xx answer, e.g. `404×3 timeout×1 unsent×2`; `-` if none.
    pub fn problems(&self) -> String {
        let mut parts: Vec<String> = self
            .statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| format!("{s}×{n}"))
            .chain(self.errors.iter().map(|(k, n)| format!("{k}×{n}")))
            .collect();
        if self.unsent > 0 {
            parts.push(format!("unsent×{}", self.unsent));
        }
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(" ")
        }
    }
}

/// The recorded part of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The rate asked for.
    pub rate: f64,
    /// From the first recorded due time to the last recorded completion.
    pub elapsed: Duration,
    pub targets: Vec<TargetReport>,
}

impl Report {
    pub fn target(&self, name: &str) -> Option<&TargetReport> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// Requests due in the recorded part, over all targets.
    pub fn due(&self) -> u64 {
        self.targets.iter().map(TargetReport::due).sum()
    }

    /// Answered or failed requests per second of `elapsed`, over all targets.
    pub fn achieved_rate(&self) -> f64 {
        self.completed_rate(|_| true)
    }

    /// The same for one target.
    pub fn target_rate(&self, name: &str) -> f64 {
        self.completed_rate(|t| t.name == name)
    }

    fn completed_rate(&self, which: impl Fn(&TargetReport) -> bool) -> f64 {
        let done: u64 = self.targets.iter().filter(|t| which(t)).map(|t| t.answered() + t.failed()).sum();
        if self.elapsed.is_zero() {
            0.0
        } else {
            done as f64 / self.elapsed.as_secs_f64()
        }
    }
}

pub(super) fn summarise(load: &Load, samples: Vec<Sample>, warmup_count: u64, first_due: Instant) -> Report {
    struct Acc {
        latency: Vec<u64>,
        service: Vec<u64>,
        send_lag: Vec<u64>,
        statuses: BTreeMap<u16, u64>,
        errors: BTreeMap<&'static str, u64>,
        unsent: u64,
        bytes: u64,
    }
    let mut acc: Vec<Acc> = load
        .targets
        .iter()
        .map(|_| Acc {
            latency: Vec::new(),
            service: Vec::new(),
            send_lag: Vec::new(),
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            unsent: 0,
            bytes: 0,
        })
        .collect();
    let us = |d: Duration| d.as_micros() as u64;
    let mut last_done = first_due;
    for s in samples.into_iter().filter(|s| s.index >= warmup_count) {
        let a = &mut acc[s.target];
        if let Some(sent) = s.sent {
            a.send_lag.push(us(sent - s.due));
            last_done = last_done.max(s.done);
        }
        match s.outcome {
            Outcome::Status(code) => {
                *a.statuses.entry(code).or_default() += 1;
                a.latency.push(us(s.done - s.due));
                a.service.push(us(s.done - s.sent.expect("an answered request was sent")));
                a.bytes += s.bytes;
            }
            Outcome::Error(kind) => *a.errors.entry(kind).or_default() += 1,
            Outcome::Unsent => a.unsent += 1,
        }
    }
    let targets = load
        .targets
        .iter()
        .zip(acc)
        .map(|(t, a)| TargetReport {
            name: t.name.clone(),
            url: t.url.clone(),
            latency: Latencies::from_micros(a.latency),
            service: Latencies::from_micros(a.service),
            send_lag: Latencies::from_micros(a.send_lag),
            statuses: a.statuses,
            errors: a.errors,
            unsent: a.unsent,
            bytes: a.bytes,
        })
        .collect();
    Report { rate: load.rate, elapsed: last_done.saturating_duration_since(first_due), targets }
}

/// Milliseconds with two decimals: `0.42`, `12.30`.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}
