//! The ingestors' Prometheus metrics: messages in per venue, instrument and channel,
//! reconnects by reason, sequence gaps and resyncs, REST book checks, garbage frames by kind,
//! silences of single streams, and two histograms: the source lag (receive time − venue event
//! time) and the time a book takes to resync (from the disconnect or break to the snapshot
//! applied).

use crate::streams::{slot, StreamMap};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use tickwatch_runtime::metrics::{render_counters, Histogram};

const LAG_BOUNDS_MS: &[f64] = &[5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0];
const RESYNC_BOUNDS_S: &[f64] = &[0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Inner {
    /// Per venue, then stream: counted for every message, so looked up without allocating.
    msgs: BTreeMap<String, StreamMap<u64>>,
    reconnects: BTreeMap<(String, String), u64>,
    gaps: BTreeMap<(String, String, String), u64>,
    trade_gaps: BTreeMap<(String, String), u64>,
    trades_missed: BTreeMap<(String, String), u64>,
    resyncs: BTreeMap<(String, String), u64>,
    checks: BTreeMap<(String, String, String), u64>,
    garbage: BTreeMap<(String, String), u64>,
    silences: BTreeMap<(String, String, String), u64>,
    published: BTreeMap<String, u64>,
    publish_errors: u64,
    /// Per venue.
    lag: BTreeMap<String, Histogram>,
    resync_seconds: BTreeMap<String, Histogram>,
}

/// Shared by every connection of the process.
#[derive(Default)]
pub struct IngestMetrics(Mutex<Inner>);

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
    *map.entry(key).or_default() += 1;
}

impl IngestMetrics {
    pub fn message(&self, venue: &str, instrument: &str, channel: &'static str, lag_ms: i64) {
        let mut m = self.0.lock().expect("metrics lock");
        *slot(&mut m.msgs, venue, StreamMap::default).get_or_insert_with(instrument, channel, || 0) += 1;
        slot(&mut m.lag, venue, || Histogram::new(LAG_BOUNDS_MS)).observe(lag_ms.max(0) as f64);
    }

    pub fn reconnect(&self, venue: &str, reason: &str) {
        bump(&mut self.0.lock().expect("metrics lock").reconnects, (venue.into(), reason.into()));
    }

    /// A jump in a contiguous trade sequence: `missed` trades never received.
    pub fn trade_gap(&self, venue: &str, instrument: &str, missed: u64) {
        let mut m = self.0.lock().expect("metrics lock");
        let key = (venue.to_string(), instrument.to_string());
        *m.trade_gaps.entry(key.clone()).or_default() += 1;
        *m.trades_missed.entry(key).or_default() += missed;
    }

    /// A sequence break; `loss` is `exact` or `unknown`.
    pub fn gap(&self, venue: &str, instrument: &str, loss: &str) {
        bump(&mut self.0.lock().expect("metrics lock").gaps, (venue.into(), instrument.into(), loss.into()));
    }

    /// A book rebuilt from a snapshot; `waited`: since the disconnect or break, when known.
    pub fn resync(&self, venue: &str, instrument: &str, waited: Option<std::time::Duration>) {
        let mut m = self.0.lock().expect("metrics lock");
        bump(&mut m.resyncs, (venue.into(), instrument.into()));
        if let Some(w) = waited {
            m.resync_seconds
                .entry(venue.into())
                .or_insert_with(|| Histogram::new(RESYNC_BOUNDS_S))
                .observe(w.as_secs_f64());
        }
    }

    /// A REST snapshot check's verdict: same, diverged or inconclusive.
    pub fn book_check(&self, venue: &str, instrument: &str, verdict: &str) {
        bump(&mut self.0.lock().expect("metrics lock").checks, (venue.into(), instrument.into(), verdict.into()));
    }

    pub fn garbage(&self, venue: &str, kind: &str) {
        bump(&mut self.0.lock().expect("metrics lock").garbage, (venue.into(), kind.into()));
    }

    /// A stream went silent while its connection stayed open (see `crate::silence`).
    pub fn silence_started(&self, venue: &str, instrument: &str, channel: &str) {
        bump(&mut self.0.lock().expect("metrics lock").silences, (venue.into(), instrument.into(), channel.into()));
    }

    /// `n` records of `topic` were acknowledged by the broker.
    pub fn published(&self, topic: &str, n: u64) {
        let mut m = self.0.lock().expect("metrics lock");
        match m.published.get_mut(topic) {
            Some(count) => *count += n,
            None => {
                m.published.insert(topic.to_string(), n);
            }
        }
    }

    pub fn publish_error(&self) {
        self.0.lock().expect("metrics lock").publish_errors += 1;
    }

    /// Value of a counter, for tests and logs: `name` is the metric, `labels` its label values.
    pub fn reconnects(&self, venue: &str) -> u64 {
        let m = self.0.lock().expect("metrics lock");
        m.reconnects.iter().filter(|((v, _), _)| v == venue).map(|(_, n)| n).sum()
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let m = self.0.lock().expect("metrics lock");
        let mut s = String::new();
        let mut family = |name: &str, help: &str, rows: Vec<(String, u64)>| render_counters(&mut s, name, help, rows);
        family(
            "collector_in_msgs_total",
            "Market-data messages received, per venue, instrument and channel.",
            m.msgs
                .iter()
                .flat_map(|(v, streams)| {
                    streams
                        .iter()
                        .map(move |(i, c, n)| (format!("venue=\"{v}\",instrument=\"{i}\",channel=\"{c}\""), *n))
                })
                .collect(),
        );
        family(
            "ws_reconnects_total",
            "WebSocket reconnects, per venue and reason.",
            m.reconnects.iter().map(|((v, r), n)| (format!("venue=\"{v}\",reason=\"{r}\""), *n)).collect(),
        );
        family(
            "book_sequence_gaps_total",
            "Order-book sequence breaks, per venue, instrument and loss (exact|unknown).",
            m.gaps
                .iter()
                .map(|((v, i, l), n)| (format!("venue=\"{v}\",instrument=\"{i}\",loss=\"{l}\""), *n))
                .collect(),
        );
        family(
            "trade_sequence_gaps_total",
            "Jumps in a venue's contiguous trade sequence (Binance aggregate trade ids), per venue and instrument.",
            m.trade_gaps.iter().map(|((v, i), n)| (format!("venue=\"{v}\",instrument=\"{i}\""), *n)).collect(),
        );
        family(
            "trades_missed_total",
            "Trades skipped by those jumps: never received, per venue and instrument.",
            m.trades_missed.iter().map(|((v, i), n)| (format!("venue=\"{v}\",instrument=\"{i}\""), *n)).collect(),
        );
        family(
            "book_resyncs_total",
            "Books rebuilt from a fresh snapshot, per venue and instrument.",
            m.resyncs.iter().map(|((v, i), n)| (format!("venue=\"{v}\",instrument=\"{i}\""), *n)).collect(),
        );
        family(
            "book_checks_total",
            "Local books compared with the venue's REST snapshot, per venue, instrument and result.",
            m.checks
                .iter()
                .map(|((v, i, r), n)| (format!("venue=\"{v}\",instrument=\"{i}\",result=\"{r}\""), *n))
                .collect(),
        );
        family(
            "ws_garbage_frames_total",
            "Frames that were not usable market data, per venue and kind.",
            m.garbage.iter().map(|((v, k), n)| (format!("venue=\"{v}\",kind=\"{k}\""), *n)).collect(),
        );
        family(
            "stream_silences_total",
            "Silences started: a stream quiet far longer than its usual interval, its connection open; per venue, instrument and channel.",
            m.silences
                .iter()
                .map(|((v, i, c), n)| (format!("venue=\"{v}\",instrument=\"{i}\",channel=\"{c}\""), *n))
                .collect(),
        );
        family(
            "ingest_published_total",
            "Raw records acknowledged by the broker, per topic.",
            m.published.iter().map(|(t, n)| (format!("topic=\"{t}\""), *n)).collect(),
        );
        family(
            "ingest_publish_errors_total",
            "Sends of raw records the broker refused (each is sent again until taken).",
            vec![(String::new(), m.publish_errors)],
        );
        let _ = writeln!(
            s,
            "# HELP source_lag_ms Receive time minus the venue's event time.\n# TYPE source_lag_ms histogram"
        );
        for (venue, h) in &m.lag {
            h.render(&mut s, "source_lag_ms", &format!("venue=\"{venue}\""));
        }
        let _ = writeln!(
            s,
            "# HELP book_resync_seconds From a disconnect or sequence break to the book rebuilt.\n# TYPE book_resync_seconds histogram"
        );
        for (venue, h) in &m.resync_seconds {
            h.render(&mut s, "book_resync_seconds", &format!("venue=\"{venue}\""));
        }
        s
    }
}
