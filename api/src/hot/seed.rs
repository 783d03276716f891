//! At start the hot values are read from ClickHouse (the newest row per series within
//! `hot.seed_window`), so the API answers at once instead of after the next record.

use super::HotState;
use serde_json::Value;
use tickwatch_runtime::clickhouse::{ClickHouse, ClickHouseError};

const TRADES: &str =
    "SELECT venue, instrument, argMax(tuple(toString(price), toString(size), toString(taker_side), trade_id,
    toUnixTimestamp64Milli(event_time), toUnixTimestamp64Milli(receive_time)), event_time) AS t,
    toUnixTimestamp64Micro(max(event_time)) AS at_us
  FROM trades WHERE event_time >= now64(6) - toIntervalMillisecond({window:Int64})
  GROUP BY venue, instrument";

const REFERENCE: &str = "SELECT venue, instrument, field, argMax(v, event_time) AS value, toUnixTimestamp64Micro(max(event_time)) AS at_us
  FROM (
    SELECT venue, instrument, event_time, arrayJoin([('mark_price', toString(mark_price)), ('index_price', toString(index_price)),
      ('funding_rate', toString(funding_rate))]) AS pair, pair.1 AS field, pair.2 AS v
    FROM reference_prices WHERE event_time >= now64(6) - toIntervalMillisecond({window:Int64})
  ) WHERE v IS NOT NULL
  GROUP BY venue, instrument, field";

const BOOK_TOPS: &str =
    "SELECT venue, instrument, argMax(tuple(toString(bid_price), toString(bid_size), toString(ask_price),
    toString(ask_size), imbalance, toUnixTimestamp64Milli(window_start)), window_start) AS t,
    toUnixTimestamp64Micro(max(window_start)) AS at_us
  FROM book_tops WHERE interval = '1s' AND window_start >= now64(6) - toIntervalMillisecond({window:Int64})
  GROUP BY venue, instrument";

const SIGNALS: &str = "SELECT kind, venue, venue_b, instrument, argMax(tuple(value, unit), at) AS t,
    toUnixTimestamp64Micro(max(at)) AS at_us
  FROM signals WHERE kind IN ('spread', 'divergence') AND at >= now64(6) - toIntervalMillisecond({window:Int64})
  GROUP BY kind, venue, venue_b, instrument";

const SMOOTH: &str = "SELECT instrument, argMax(tuple(toString(price), toString(target), toString(state),
    toUnixTimestamp64Milli(ramp_end), sources), tick) AS t, toUnixTimestamp64Micro(max(tick)) AS at_us
  FROM price_smooth FINAL WHERE tick >= now64(6) - toIntervalMillisecond({window:Int64})
  GROUP BY instrument";

/// Alerts: the last state of every series that changed in the last 30 days, so the ones still
/// firing are known however long ago they started.
pub const ALERTS: &str = "SELECT fingerprint, argMax(tuple(rule, toString(severity), toString(state), venue, instrument,
    value, threshold, summary, labels, toUnixTimestamp64Milli(started_at), toUnixTimestamp64Milli(emitted_at)), emitted_at) AS t,
    toUnixTimestamp64Micro(max(emitted_at)) AS at_us
  FROM alerts WHERE emitted_at >= now64(6) - INTERVAL 30 DAY
  GROUP BY fingerprint";

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn at(row: &Value) -> i64 {
    row["at_us"].as_i64().unwrap_or_default()
}

pub async fn seed(ch: &ClickHouse, hot: &HotState, window_ms: i64) -> Result<(), ClickHouseError> {
    let p = [("window".to_string(), window_ms.to_string())];
    for r in ch.query_params(TRADES, &p).await? {
        let t = &r["t"];
        let v = serde_json::json!({"price": t[0], "size": t[1], "side": t[2], "trade_id": t[3],
            "event_time_ms": t[4], "receive_time_ms": t[5]});
        hot.put_trade(s(&r["venue"]), s(&r["instrument"]), at(&r), v);
    }
    for r in ch.query_params(REFERENCE, &p).await? {
        let field = match s(&r["field"]) {
            "mark_price" => "mark_price",
            "index_price" => "index_price",
            _ => "funding_rate",
        };
        hot.put_reference(s(&r["venue"]), s(&r["instrument"]), field, at(&r), r["value"].clone());
    }
    for r in ch.query_params(BOOK_TOPS, &p).await? {
        let t = &r["t"];
        let v = serde_json::json!({"bid_price": t[0], "bid_size": t[1], "ask_price": t[2], "ask_size": t[3],
            "imbalance": t[4], "window_start_ms": t[5]});
        hot.put_book_top(s(&r["venue"]), s(&r["instrument"]), at(&r), v);
    }
    for r in ch.query_params(SIGNALS, &p).await? {
        let (t, at_ms) = (&r["t"], at(&r).div_euclid(1000));
        let (venue, instrument) = (s(&r["venue"]), s(&r["instrument"]));
        if s(&r["kind"]) == "spread" {
            let v = serde_json::json!({"venue": venue, "venue_b": r["venue_b"], "instrument": instrument,
                "value": t[0], "unit": t[1], "at_ms": at_ms});
            hot.put_spread(venue, s(&r["venue_b"]), instrument, at(&r), v);
        } else {
            let v = serde_json::json!({"venue": venue, "instrument": instrument, "value": t[0], "unit": t[1], "at_ms": at_ms});
            hot.put_divergence(venue, instrument, at(&r), v);
        }
    }
    for r in ch.query_params(SMOOTH, &p).await? {
        let t = &r["t"];
        let v = serde_json::json!({"instrument": r["instrument"], "tick_ms": at(&r).div_euclid(1000), "price": t[0],
            "target": t[1], "state": t[2], "ramp_end_ms": t[3], "sources": t[4]});
        hot.put_smooth(s(&r["instrument"]), at(&r), v);
    }
    for r in ch.query_params(ALERTS, &[]).await? {
        hot.put_alert(s(&r["fingerprint"]), at(&r), alert_json(&r["fingerprint"], &r["t"]));
    }
    Ok(())
}

/// An alert row's tuple (the order of [`ALERTS`]) as the API shows alerts.
pub fn alert_json(fingerprint: &Value, t: &Value) -> Value {
    serde_json::json!({"fingerprint": fingerprint, "rule": t[0], "severity": t[1], "state": t[2], "venue": t[3],
        "instrument": t[4], "value": t[5], "threshold": t[6], "summary": t[7], "labels": t[8],
        "started_at_ms": t[9], "emitted_at_ms": t[10]})
}
