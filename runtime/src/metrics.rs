//! Prometheus metrics of the consumer-group stages (window workers, writers, analytics, the
//! alert engine and notifier, the API's followers): one registry per process, rendered by the
//! stage's `/metrics`. The ingestors and the transform host keep their own families beside it.
//!
//! - `consumer_records_total{topic}`: records read;
//! - `consumer_lag_records{topic,partition}`: the partition's high watermark as the last fetch
//!   response told it, minus the next offset to read, as of the last record read (no
//!   ListOffsets request: Tansu answers those wrongly, and a fetch response carries the
//!   watermark anyway; while a writer is paused by an outage it shows the lag at the pause);
//! - `sink_batch_rows{table}` (histogram) and `sink_rows_written_total{table}`: inserts the
//!   ClickHouse writer had acknowledged, and `sink_files_written_total{dataset}`, the Parquet
//!   writer's stored files, and `sink_records_withheld_total{dataset,reason}`, the records it
//!   read and did not store (DEX swaps not final yet or retracted, repeats of a stored row);
//! - `event_end2end_latency_ms{table,venue}` (histogram): from a record's receipt at the ingestor to
//!   ClickHouse acknowledging its row (the row is queryable from then on);
//! - `dq_drop_counter_total{topic,reason}`: records kept out of the clean data (quarantine rows
//!   written, by the topic they came from and the reason).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

pub const LATENCY_BOUNDS_MS: &[f64] =
    &[5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 30000.0, 60000.0];
pub const BATCH_BOUNDS_ROWS: &[f64] = &[1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0];

/// Bucket counts (last = +Inf, cumulated when rendered) and the sum of observations.
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<u64>,
    sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, buckets: vec![0; bounds.len() + 1], sum: 0.0 }
    }

    pub fn observe(&mut self, v: f64) {
        let slot = self.bounds.iter().position(|b| v <= *b).unwrap_or(self.bounds.len());
        self.buckets[slot] += 1;
        self.sum += v;
    }

    /// Add another histogram of the same bounds (a batch's, observed without the lock).
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    pub fn render(&self, s: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, c) in self.buckets.iter().enumerate() {
            cumulative += c;
            let le = self.bounds.get(i).map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(s, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(s, "{name}_sum{{{labels}}} {}\n{name}_count{{{labels}}} {cumulative}", self.sum);
    }
}

/// Write one counter family in the Prometheus text format.
pub fn render_counters(s: &mut String, name: &str, help: &str, rows: impl IntoIterator<Item = (String, u64)>) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, v) in rows {
        let _ = writeln!(s, "{name}{{{labels}}} {v}");
    }
}

#[derive(Default)]
struct Inner {
    consumed: BTreeMap<String, u64>,
    /// Per topic, then partition: looked up by `&str`, no allocation per record.
    lag: BTreeMap<String, BTreeMap<i32, i64>>,
    batch_rows: BTreeMap<String, Histogram>,
    rows: BTreeMap<String, u64>,
    files: BTreeMap<String, u64>,
    /// Per table and venue.
    e2e: BTreeMap<(String, String), Histogram>,
    drops: BTreeMap<(String, String), u64>,
    /// Per dataset and reason.
    withheld: BTreeMap<(String, String), u64>,
}

/// The process's registry; see the module's documentation for the families.
#[derive(Default)]
pub struct StageMetrics(Mutex<Inner>);

/// The registry of this process.
pub fn stage_metrics() -> &'static StageMetrics {
    static METRICS: OnceLock<StageMetrics> = OnceLock::new();
    METRICS.get_or_init(StageMetrics::default)
}

impl StageMetrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A record read at `offset`; `high_watermark` gives the partition's end as the consumer
    /// last saw it (a cached value, no request).
    pub fn consumed(&self, topic: &str, partition: i32, offset: i64, high_watermark: Option<i64>) {
        let mut m = self.inner();
        match m.consumed.get_mut(topic) {
            Some(n) => *n += 1,
            None => {
                m.consumed.insert(topic.to_string(), 1);
            }
        }
        if let Some(hw) = high_watermark {
            let lag = (hw - offset - 1).max(0);
            match m.lag.get_mut(topic) {
                Some(partitions) => {
                    partitions.insert(partition, lag);
                }
                None => {
                    m.lag.insert(topic.to_string(), BTreeMap::from([(partition, lag)]));
                }
            }
        }
    }

    /// An insert ClickHouse acknowledged: its rows, and their receipt-to-queryable latency
    /// per venue.
    pub fn inserted(&self, table: &str, rows: usize, latency: &[(&str, Histogram)]) {
        let mut m = self.inner();
        m.batch_rows.entry(table.into()).or_insert_with(|| Histogram::new(BATCH_BOUNDS_ROWS)).observe(rows as f64);
        *m.rows.entry(table.into()).or_default() += rows as u64;
        for (venue, h) in latency.iter().filter(|(_, h)| h.count() > 0) {
            let key = (table.to_string(), venue.to_string());
            m.e2e.entry(key).or_insert_with(|| Histogram::new(LATENCY_BOUNDS_MS)).merge(h);
        }
    }

    /// A Parquet file stored.
    pub fn file_stored(&self, dataset: &str) {
        *self.inner().files.entry(dataset.into()).or_default() += 1;
    }

    /// A record a Parquet writer read and did not store: not final (`pending`), withdrawn
    /// (`retracted`), or a row its file already holds (`duplicate`).
    pub fn withheld(&self, dataset: &str, reason: &str) {
        *self.inner().withheld.entry((dataset.into(), reason.into())).or_default() += 1;
    }

    /// A record kept out of the clean data (written to the quarantine table).
    pub fn dropped(&self, topic: &str, reason: &str) {
        *self.inner().drops.entry((topic.into(), reason.into())).or_default() += 1;
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let m = self.inner();
        let mut s = String::new();
        render_counters(
            &mut s,
            "consumer_records_total",
            "Records read from the broker, per topic.",
            m.consumed.iter().map(|(t, n)| (format!("topic=\"{t}\""), *n)),
        );
        let _ = writeln!(
            s,
            "# HELP consumer_lag_records The partition's high watermark (from the last fetch) minus the next offset to read.\n# TYPE consumer_lag_records gauge"
        );
        for (t, partitions) in &m.lag {
            for (p, lag) in partitions {
                let _ = writeln!(s, "consumer_lag_records{{topic=\"{t}\",partition=\"{p}\"}} {lag}");
            }
        }
        render_counters(
            &mut s,
            "sink_rows_written_total",
            "Rows ClickHouse acknowledged, per table.",
            m.rows.iter().map(|(t, n)| (format!("table=\"{t}\""), *n)),
        );
        render_counters(
            &mut s,
            "sink_files_written_total",
            "Parquet files stored, per dataset.",
            m.files.iter().map(|(d, n)| (format!("dataset=\"{d}\""), *n)),
        );
        render_counters(
            &mut s,
            "sink_records_withheld_total",
            "Records the Parquet writer read and did not store, per dataset and reason (pending, retracted, duplicate).",
            m.withheld.iter().map(|((d, r), n)| (format!("dataset=\"{d}\",reason=\"{r}\""), *n)),
        );
        render_counters(
            &mut s,
            "dq_drop_counter_total",
            "Records kept out of the clean data (quarantined), per source topic and reason.",
            m.drops.iter().map(|((t, r), n)| (format!("topic=\"{t}\",reason=\"{r}\""), *n)),
        );
        let _ = writeln!(s, "# HELP sink_batch_rows Rows per acknowledged insert.\n# TYPE sink_batch_rows histogram");
        for (t, h) in &m.batch_rows {
            h.render(&mut s, "sink_batch_rows", &format!("table=\"{t}\""));
        }
        let _ = writeln!(
            s,
            "# HELP event_end2end_latency_ms From a record's receipt at the ingestor to its row acknowledged by ClickHouse.\n# TYPE event_end2end_latency_ms histogram"
        );
        for ((t, v), h) in &m.e2e {
            h.render(&mut s, "event_end2end_latency_ms", &format!("table=\"{t}\",venue=\"{v}\""));
        }
        s.push_str(&crate::trace::render_metrics());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_watermark_past_the_next_offset_as_of_the_last_record() {
        let m = StageMetrics::default();
        m.consumed("trades", 0, 9, Some(15));
        m.consumed("trades", 0, 10, Some(15));
        m.consumed("trades", 1, 3, None);
        let text = m.render();
        assert!(text.contains("consumer_lag_records{topic=\"trades\",partition=\"0\"} 4\n"), "{text}");
        assert!(!text.contains("partition=\"1\""), "no watermark, no lag: {text}");
        assert!(text.contains("consumer_records_total{topic=\"trades\"} 3\n"), "{text}");
    }

    #[test]
    fn histograms_merge_and_render_cumulative_buckets() {
        let m = StageMetrics::default();
        let mut batch = Histogram::new(LATENCY_BOUNDS_MS);
        for v in [3.0, 7.0, 70_000.0] {
            batch.observe(v);
        }
        m.inserted("trades", 3, &[("binance", batch)]);
        m.inserted("trades", 1, &[]);
        m.dropped("raw.trades", "negative_price");
        m.withheld("dex_swaps", "pending");
        m.withheld("dex_swaps", "pending");
        let text = m.render();
        for line in [
            "event_end2end_latency_ms_bucket{table=\"trades\",venue=\"binance\",le=\"5\"} 1\n",
            "event_end2end_latency_ms_bucket{table=\"trades\",venue=\"binance\",le=\"10\"} 2\n",
            "event_end2end_latency_ms_bucket{table=\"trades\",venue=\"binance\",le=\"+Inf\"} 3\n",
            "event_end2end_latency_ms_count{table=\"trades\",venue=\"binance\"} 3\n",
            "sink_rows_written_total{table=\"trades\"} 4\n",
            "sink_batch_rows_count{table=\"trades\"} 2\n",
            "dq_drop_counter_total{topic=\"raw.trades\",reason=\"negative_price\"} 1\n",
            "sink_records_withheld_total{dataset=\"dex_swaps\",reason=\"pending\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
