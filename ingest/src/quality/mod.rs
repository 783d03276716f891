//! Data-quality minutes (`dq.minute`): per venue, instrument, channel and UTC minute, what the
//! ingestor saw — messages, sequence gaps and how much they lost (exact, or unknown: the book's,
//! and the trades' where the venue's trade ids count every trade), trades repeated or out of
//! order (by the venue's trade sequence), reconnects, resyncs, the longest
//! silence and the source-lag P95. A minute is published once it has closed (plus a grace
//! period), and every configured stream gets its row even when nothing came: a silent minute
//! is a visible gap. The `quarantined` count is the transforms' (0 here).

mod lags;

use crate::streams::{slot, StreamMap};
use lags::LagHistogram;
use std::collections::BTreeMap;
use tickwatch_model::QualityMinute;

const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Default, Clone)]
struct Counters {
    messages: i64,
    gaps: i64,
    lost_exact: i64,
    lost_unknown: bool,
    out_of_order: i64,
    duplicates: i64,
    reconnects: i64,
    resyncs: i64,
    max_silence_ms: i64,
    lags: LagHistogram,
}

/// The open minutes of one venue's streams.
pub struct QualityBook {
    venue: String,
    /// (instrument, channel) of every configured stream.
    streams: Vec<(String, &'static str)>,
    /// Per stream, its open minutes.
    rows: StreamMap<BTreeMap<i64, Counters>>,
    /// Receive time of the last message per stream (for silences).
    last_seen: StreamMap<i64>,
    /// The last trade sequence per instrument (for repeats, disorder and, where the venue's
    /// sequence counts every trade, gaps).
    last_trade: BTreeMap<String, i64>,
    contiguous_trades: bool,
    /// Minutes before this one are published.
    flushed_until: i64,
}

fn minute_of(ms: i64) -> i64 {
    ms.div_euclid(MINUTE_MS) * MINUTE_MS
}

impl QualityBook {
    pub fn new(venue: &str, streams: Vec<(String, &'static str)>, now_ms: i64) -> QualityBook {
        let mut last_seen = StreamMap::default();
        for (instrument, channel) in &streams {
            last_seen.insert(instrument, channel, now_ms);
        }
        QualityBook {
            venue: venue.into(),
            streams,
            rows: StreamMap::default(),
            last_seen,
            last_trade: BTreeMap::new(),
            contiguous_trades: false,
            flushed_until: minute_of(now_ms),
        }
    }

    /// The venue's trade sequence counts every trade: a jump is a gap of that many trades.
    pub fn with_contiguous_trades(mut self, yes: bool) -> QualityBook {
        self.contiguous_trades = yes;
        self
    }

    fn row(&mut self, at_ms: i64, instrument: &str, channel: &'static str) -> &mut Counters {
        let minute = minute_of(at_ms).max(self.flushed_until);
        self.rows.get_or_insert_with(instrument, channel, BTreeMap::new).entry(minute).or_default()
    }

    /// A message received at `at_ms`; `trade_seq` for trades with a venue sequence. Returns
    /// the trades missed before this one when its sequence jumps (contiguous venues only; a
    /// trade that comes late into a counted gap is then counted out of order as well).
    pub fn message(
        &mut self,
        at_ms: i64,
        instrument: &str,
        channel: &'static str,
        lag_ms: i64,
        trade_seq: Option<i64>,
    ) -> Option<i64> {
        let silence = at_ms - self.last_seen.insert(instrument, channel, at_ms).unwrap_or(at_ms);
        let (mut repeat, mut missed) = ((false, false), None);
        if let Some(seq) = trade_seq {
            let last = slot(&mut self.last_trade, instrument, || seq - 1);
            repeat = (seq == *last, seq < *last);
            missed = (self.contiguous_trades && seq > *last + 1).then_some(seq - *last - 1);
            *last = (*last).max(seq);
        }
        let row = self.row(at_ms, instrument, channel);
        if let Some(n) = missed {
            row.gaps += 1;
            row.lost_exact += n;
        }
        row.messages += 1;
        row.max_silence_ms = row.max_silence_ms.max(silence);
        row.duplicates += repeat.0 as i64;
        row.out_of_order += repeat.1 as i64;
        row.lags.add(lag_ms);
        missed
    }

    /// A sequence break of the book; `lost` None when the venue's ids do not tell.
    pub fn gap(&mut self, at_ms: i64, instrument: &str, lost: Option<u64>) {
        let row = self.row(at_ms, instrument, "depth");
        row.gaps += 1;
        match lost {
            Some(n) => row.lost_exact += n as i64,
            None => row.lost_unknown = true,
        }
    }

    pub fn resync(&mut self, at_ms: i64, instrument: &str) {
        self.row(at_ms, instrument, "depth").resyncs += 1;
    }

    /// A reconnect of a connection carrying these instruments' streams.
    pub fn reconnect(&mut self, at_ms: i64, instruments: &[String]) {
        let streams: Vec<_> = self.streams.iter().filter(|(i, _)| instruments.contains(i)).cloned().collect();
        for (instrument, channel) in streams {
            self.row(at_ms, &instrument, channel).reconnects += 1;
        }
    }

    /// The rows of every minute that closed at least `grace_ms` before `now_ms` (all minutes
    /// up to now when `grace_ms` is negative: at shutdown), one per configured stream.
    pub fn flush(&mut self, now_ms: i64, grace_ms: i64) -> Vec<QualityMinute> {
        let until = if grace_ms < 0 { minute_of(now_ms) + MINUTE_MS } else { minute_of(now_ms - grace_ms) };
        let mut out = Vec::new();
        let mut minute = self.flushed_until;
        while minute < until {
            for (instrument, channel) in self.streams.clone() {
                let c = self.rows.get_mut(&instrument, channel).and_then(|m| m.remove(&minute)).unwrap_or_default();
                let end = (minute + MINUTE_MS).min(now_ms);
                // Silence running at the end of the minute counts too.
                let last = self.last_seen.get(&instrument, channel).copied().unwrap_or(minute);
                let open = if last < end { end - last.max(minute) } else { 0 };
                out.push(QualityMinute {
                    venue: self.venue.clone(),
                    instrument,
                    channel: channel.into(),
                    minute_us: minute * 1000,
                    messages: c.messages,
                    gaps: c.gaps,
                    lost_messages: (!c.lost_unknown).then_some(c.lost_exact),
                    out_of_order: c.out_of_order,
                    duplicates: c.duplicates,
                    reconnects: c.reconnects,
                    resyncs: c.resyncs,
                    quarantined: 0,
                    max_silence_ms: c.max_silence_ms.max(open.min(MINUTE_MS)),
                    source_lag_p95_ms: c.lags.p95(),
                });
            }
            minute += MINUTE_MS;
        }
        // A stream outside the configured ones has no row to publish; its closed minutes go.
        for minutes in self.rows.values_mut() {
            minutes.retain(|m, _| *m >= until);
        }
        self.flushed_until = self.flushed_until.max(until);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_count_what_happened_and_silent_streams_get_rows() {
        let t0 = 1_764_000_000_000; // a minute boundary
        let streams = vec![
            ("BTC-USDT".to_string(), "trades"),
            ("BTC-USDT".to_string(), "depth"),
            ("ETH-USDT".to_string(), "trades"),
        ];
        let mut q = QualityBook::new("okx", streams, t0);
        q.message(t0 + 1_000, "BTC-USDT", "trades", 5, Some(10));
        q.message(t0 + 2_000, "BTC-USDT", "trades", 7, Some(11));
        q.message(t0 + 2_500, "BTC-USDT", "trades", 9, Some(11)); // repeated
        q.message(t0 + 3_000, "BTC-USDT", "trades", 9, Some(9)); // late
        q.gap(t0 + 4_000, "BTC-USDT", Some(3));
        q.gap(t0 + 5_000, "BTC-USDT", None);
        q.resync(t0 + 5_100, "BTC-USDT");
        q.reconnect(t0 + 6_000, &["BTC-USDT".to_string()]);
        assert!(q.flush(t0 + 61_000, 5_000).is_empty(), "the minute waits for its grace period");
        let rows = q.flush(t0 + 66_000, 5_000);
        assert_eq!(rows.len(), 3);
        let trades = &rows[0];
        assert_eq!((trades.messages, trades.duplicates, trades.out_of_order, trades.reconnects), (4, 1, 1, 1));
        assert_eq!(trades.source_lag_p95_ms, Some(9.0));
        assert_eq!(trades.max_silence_ms, 57_000, "silent from 0:03 to the end of the minute");
        let depth = &rows[1];
        assert_eq!((depth.gaps, depth.lost_messages, depth.resyncs, depth.messages), (2, None, 1, 0));
        let eth = &rows[2];
        assert_eq!((eth.messages, eth.max_silence_ms, eth.reconnects), (0, 60_000, 0));
        // The next minute: exact losses only.
        q.gap(t0 + 70_000, "BTC-USDT", Some(2));
        let rows = q.flush(t0 + 200_000, -1);
        assert_eq!(rows.len(), 3 * 3, "minutes 1, 2 and the open minute 3 at shutdown");
        assert_eq!(rows[1].lost_messages, Some(2));
        assert_eq!(rows[1].minute_us, (t0 + 60_000) * 1000);
    }

    #[test]
    fn a_jump_in_a_contiguous_trade_sequence_is_a_counted_gap() {
        let t0 = 1_764_000_000_000;
        let streams = vec![("BTC-USDT".to_string(), "trades")];
        let mut skipping = QualityBook::new("okx", streams.clone(), t0);
        let mut counting = QualityBook::new("binance", streams, t0).with_contiguous_trades(true);
        for q in [&mut skipping, &mut counting] {
            assert_eq!(q.message(t0 + 1, "BTC-USDT", "trades", 0, Some(100)), None, "the first trade sets the start");
            assert_eq!(q.message(t0 + 2, "BTC-USDT", "trades", 0, Some(101)), None);
        }
        assert_eq!(skipping.message(t0 + 3, "BTC-USDT", "trades", 0, Some(105)), None, "ids that may skip");
        assert_eq!(counting.message(t0 + 3, "BTC-USDT", "trades", 0, Some(105)), Some(3));
        assert_eq!(counting.message(t0 + 4, "BTC-USDT", "trades", 0, Some(105)), None, "a repeat is no gap");
        assert_eq!(counting.message(t0 + 5, "BTC-USDT", "trades", 0, Some(110)), Some(4));
        let row = &counting.flush(t0 + 120_000, 0)[0];
        assert_eq!((row.gaps, row.lost_messages, row.duplicates), (2, Some(7), 1));
        let row = &skipping.flush(t0 + 120_000, 0)[0];
        assert_eq!((row.gaps, row.lost_messages), (0, Some(0)));
    }
}
