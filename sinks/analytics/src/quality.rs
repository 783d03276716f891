//! Data-quality signals: each `dq.minute` row becomes loss %, out-of-order %, messages, duplicates,
//! gaps, reconnects and activity (messages against the stream's 7-day per-minute mean, in σ);
//! quarantined records are counted per venue, instrument and minute.

use std::collections::{BTreeMap, HashMap, VecDeque};
use tickwatch_model::{QualityMinute, QuarantineRecord};

const MINUTE_US: i64 = 60_000_000;
const HOUR_US: i64 = 3_600_000_000;

/// One data-quality reading, before it becomes a `Signal`.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityReading {
    pub kind: &'static str,
    pub unit: &'static str,
    pub venue: String,
    pub instrument: String,
    pub channel: Option<String>,
    pub value: f64,
    pub at_us: i64,
}

/// Per-minute message counts of a stream, summed per hour, over a window of hours.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// (hour start, minutes, Σ messages, Σ messages²).
    hours: VecDeque<(i64, f64, f64, f64)>,
    /// The newest minute counted (rows at or before it are replays).
    pub newest_minute_us: i64,
}

impl Activity {
    pub fn add_hour(&mut self, hour_us: i64, minutes: f64, sum: f64, sum_sq: f64) {
        self.hours.push_back((hour_us, minutes, sum, sum_sq));
    }

    fn add(&mut self, minute_us: i64, messages: f64, window_us: i64) {
        let hour = minute_us.div_euclid(HOUR_US) * HOUR_US;
        match self.hours.back_mut() {
            Some(h) if h.0 == hour => {
                h.1 += 1.0;
                h.2 += messages;
                h.3 += messages * messages;
            }
            _ => self.hours.push_back((hour, 1.0, messages, messages * messages)),
        }
        while self.hours.front().is_some_and(|h| h.0 < minute_us - window_us) {
            self.hours.pop_front();
        }
        self.newest_minute_us = minute_us;
    }

    /// z of `messages` against the window, if it holds at least `min_minutes` with spread.
    fn z(&self, messages: f64, min_minutes: f64) -> Option<f64> {
        let (n, s, ss) = self.hours.iter().fold((0.0, 0.0, 0.0), |a, h| (a.0 + h.1, a.1 + h.2, a.2 + h.3));
        if n < min_minutes {
            return None;
        }
        let mean = s / n;
        let var = (ss / n - mean * mean).max(0.0);
        (var > 0.0).then(|| (messages - mean) / var.sqrt())
    }
}

pub struct Quality {
    window_us: i64,
    min_minutes: f64,
    /// (venue, instrument, channel) → activity history.
    pub activity: HashMap<(String, String, String), Activity>,
    /// Quarantined records per (venue, instrument) and minute, not yet emitted.
    quarantined: BTreeMap<(i64, String, String), i64>,
    /// Series that had quarantined records in their last emitted minute (so the next minute
    /// is emitted too, zero included: the alert resolves).
    recent: BTreeMap<(String, String), i64>,
}

impl Quality {
    pub fn new(window_us: i64, min_minutes: u32) -> Quality {
        Quality {
            window_us,
            min_minutes: min_minutes as f64,
            activity: HashMap::new(),
            quarantined: BTreeMap::new(),
            recent: BTreeMap::new(),
        }
    }

    pub fn on_minute(&mut self, q: &QualityMinute, out: &mut Vec<QualityReading>) {
        let mut push = |kind, unit, value: f64| {
            out.push(QualityReading {
                kind,
                unit,
                venue: q.venue.clone(),
                instrument: q.instrument.clone(),
                channel: Some(q.channel.clone()),
                value,
                at_us: q.minute_us,
            })
        };
        let messages = q.messages as f64;
        if let Some(lost) = q.lost_messages {
            let seen = messages + lost as f64;
            push("loss", "pct", if seen > 0.0 { lost as f64 / seen * 100.0 } else { 0.0 });
        }
        push("out_of_order", "pct", if messages > 0.0 { q.out_of_order as f64 / messages * 100.0 } else { 0.0 });
        push("messages", "count", messages);
        push("duplicates", "count", q.duplicates as f64);
        push("gaps", "count", q.gaps as f64);
        push("reconnects", "count", q.reconnects as f64);
        let key = (q.venue.clone(), q.instrument.clone(), q.channel.clone());
        let history = self.activity.entry(key).or_default();
        if q.minute_us <= history.newest_minute_us {
            return; // counted already (a replay, or the history loaded at start)
        }
        if let Some(z) = history.z(messages, self.min_minutes) {
            push("activity", "sigma", z);
        }
        history.add(q.minute_us, messages, self.window_us);
    }

    pub fn on_quarantined(&mut self, r: &QuarantineRecord) {
        let minute = r.quarantined_at_us.div_euclid(MINUTE_US) * MINUTE_US;
        let venue = r.venue.clone().unwrap_or_else(|| "unknown".into());
        let instrument = r.instrument.clone().unwrap_or_else(|| "unknown".into());
        *self.quarantined.entry((minute, venue, instrument)).or_default() += 1;
    }

    /// Emit the quarantine counts of every minute that ended before `now_us − grace_us`.
    /// A minute with records is followed by a zero minute when the next is empty, so that
    /// an alert on it resolves.
    pub fn close_minutes(&mut self, now_us: i64, grace_us: i64, out: &mut Vec<QualityReading>) {
        let until = (now_us - grace_us).div_euclid(MINUTE_US) * MINUTE_US - MINUTE_US;
        let open = self.quarantined.split_off(&(until + 1, String::new(), String::new()));
        let closed = std::mem::replace(&mut self.quarantined, open);
        let mut counts: BTreeMap<(String, String), BTreeMap<i64, i64>> = BTreeMap::new();
        for ((minute, venue, instrument), n) in closed {
            counts.entry((venue, instrument)).or_default().insert(minute, n);
        }
        for (key, last) in std::mem::take(&mut self.recent) {
            if last + MINUTE_US <= until {
                counts.entry(key).or_default().entry(last + MINUTE_US).or_insert(0);
            } else {
                self.recent.insert(key, last);
            }
        }
        for ((venue, instrument), mut minutes) in counts {
            let busy: Vec<i64> = minutes.iter().filter(|(_, n)| **n > 0).map(|(m, _)| *m).collect();
            for m in busy {
                if m + MINUTE_US <= until {
                    minutes.entry(m + MINUTE_US).or_insert(0);
                }
            }
            for (minute, n) in &minutes {
                out.push(QualityReading {
                    kind: "quarantined",
                    unit: "count",
                    venue: venue.clone(),
                    instrument: instrument.clone(),
                    channel: None,
                    value: *n as f64,
                    at_us: *minute,
                });
            }
            if let Some((minute, n)) = minutes.iter().next_back() {
                if *n > 0 {
                    self.recent.insert((venue, instrument), *minute);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(venue: &str, m: i64, messages: i64, lost: Option<i64>) -> QualityMinute {
        QualityMinute {
            venue: venue.into(),
            instrument: "BTC-USDT".into(),
            channel: "depth".into(),
            minute_us: m * MINUTE_US,
            messages,
            gaps: lost.map_or(0, |_| 1),
            lost_messages: lost,
            out_of_order: 1,
            duplicates: 0,
            reconnects: 0,
            resyncs: 0,
            quarantined: 0,
            max_silence_ms: 0,
            source_lag_p95_ms: None,
        }
    }

    #[test]
    fn rows_become_rates_and_activity_needs_history() {
        let mut q = Quality::new(7 * 24 * HOUR_US, 3);
        let mut out = Vec::new();
        q.on_minute(&minute("okx", 1, 98, Some(2)), &mut out);
        let loss = out.iter().find(|r| r.kind == "loss").unwrap();
        assert!((loss.value - 2.0).abs() < 1e-12);
        assert_eq!(out.iter().find(|r| r.kind == "messages").unwrap().value, 98.0);
        let ooo = out.iter().find(|r| r.kind == "out_of_order").unwrap();
        assert!((ooo.value - 100.0 / 98.0).abs() < 1e-12);
        for (m, n) in [(2, 100), (3, 102)] {
            q.on_minute(&minute("okx", m, n, None), &mut out);
        }
        assert!(!out.iter().any(|r| r.kind == "activity"), "3 minutes are the minimum");
        assert!(!out.iter().filter(|r| r.at_us == 2 * MINUTE_US).any(|r| r.kind == "loss"), "unknown loss");
        out.clear();
        q.on_minute(&minute("okx", 4, 400, None), &mut out);
        let z = out.iter().find(|r| r.kind == "activity").unwrap().value;
        // mean 100, σ = sqrt(8/3) over 98, 100, 102.
        assert!((z - 300.0 / (8.0f64 / 3.0).sqrt()).abs() < 1e-6, "{z}");
        out.clear();
        q.on_minute(&minute("okx", 4, 400, None), &mut out);
        assert!(!out.iter().any(|r| r.kind == "activity"), "a replayed minute is not counted twice");
    }

    #[test]
    fn quarantine_counts_close_by_minute_and_end_with_a_zero() {
        let mut q = Quality::new(HOUR_US, 1);
        let rec = |at_s: i64| QuarantineRecord {
            source_topic: "raw.trades".into(),
            source_partition: 0,
            source_offset: 0,
            original_key: None,
            original_value: vec![],
            reason: "price_not_positive".into(),
            rule: "r".into(),
            detail: String::new(),
            venue: Some("okx".into()),
            instrument: Some("BTC-USDT".into()),
            quarantined_at_us: at_s * 1_000_000,
        };
        for s in [61, 62, 100] {
            q.on_quarantined(&rec(s));
        }
        let mut out = Vec::new();
        q.close_minutes(124 * 1_000_000, 5_000_000, &mut out);
        assert!(out.is_empty(), "minute 1 ends at 120 s, plus 5 s grace");
        q.close_minutes(126 * 1_000_000, 5_000_000, &mut out);
        assert_eq!(out.iter().map(|r| (r.at_us / MINUTE_US, r.value)).collect::<Vec<_>>(), vec![(1, 3.0)]);
        q.close_minutes(186 * 1_000_000, 5_000_000, &mut out);
        assert_eq!(out.iter().map(|r| (r.at_us / MINUTE_US, r.value)).collect::<Vec<_>>(), vec![(1, 3.0), (2, 0.0)]);
        q.close_minutes(400 * 1_000_000, 5_000_000, &mut out);
        assert_eq!(out.len(), 2, "quiet afterwards");
    }
}
