//! The SLO report: per venue over a range, from ClickHouse.
//! - latency: P95 of (row stored − venue event time) over the trades;
//! - completeness: the share of minutes with a 1m k-line, per instrument from its first
//!   observed minute in the range, summed over the venue's instruments;
//! - reconnect recovery: P95 of the longest silence of the minutes that had a reconnect.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use tickwatch_runtime::clickhouse::{ClickHouse, ClickHouseError};

pub const LATENCY_P95_TARGET_MS: f64 = 2_000.0;
pub const COMPLETENESS_TARGET: f64 = 0.999;
pub const RECOVERY_P95_TARGET_MS: f64 = 3_000.0;

const LATENCY: &str = "SELECT venue, count() AS trades, \
    quantileOrNull(0.95)(dateDiff('millisecond', event_time, inserted_at)) AS latency_p95_ms FROM trades \
    WHERE event_time >= fromUnixTimestamp64Milli({from:Int64}) AND event_time < fromUnixTimestamp64Milli({to:Int64}) \
    GROUP BY venue";

const QUALITY: &str = concat!(
    "SELECT q.venue AS venue, sum(q.reconnects) AS reconnects, sum(k.bars) AS bars, sum(greatest(0, ",
    expected_minutes!(),
    ")) AS expected, any(r.recovery_p95_ms) AS recovery_p95_ms FROM ( \
      SELECT venue, instrument, sum(reconnects) AS reconnects, min(minute) AS first_minute FROM data_quality_minute FINAL \
      WHERE minute >= fromUnixTimestamp64Milli({from:Int64}) AND minute < fromUnixTimestamp64Milli({to:Int64}) \
      GROUP BY venue, instrument \
    ) AS q LEFT JOIN (",
    bars_1m_in_range!(),
    ") AS k USING (venue, instrument) LEFT JOIN ( \
      SELECT venue, quantileOrNull(0.95)(max_silence_ms) AS recovery_p95_ms FROM data_quality_minute FINAL \
      WHERE reconnects > 0 AND minute >= fromUnixTimestamp64Milli({from:Int64}) AND minute < fromUnixTimestamp64Milli({to:Int64}) \
      GROUP BY venue \
    ) AS r ON r.venue = q.venue GROUP BY q.venue"
);

fn met(value: Option<f64>, ok: impl Fn(f64) -> bool) -> Value {
    value.map_or(Value::Null, |v| json!(ok(v)))
}

pub async fn report(ch: &ClickHouse, from_ms: i64, to_ms: i64) -> Result<Value, ClickHouseError> {
    let params = [("from".to_string(), from_ms.to_string()), ("to".to_string(), to_ms.to_string())];
    let mut venues: BTreeMap<String, Value> = BTreeMap::new();
    for r in ch.query_params(LATENCY, &params).await? {
        let v = r["venue"].as_str().unwrap_or_default().to_string();
        let entry = venues.entry(v.clone()).or_insert_with(|| json!({"venue": v}));
        entry["trades"] = r["trades"].clone();
        entry["latency_p95_ms"] = r["latency_p95_ms"].clone();
    }
    for r in ch.query_params(QUALITY, &params).await? {
        let v = r["venue"].as_str().unwrap_or_default().to_string();
        let entry = venues.entry(v.clone()).or_insert_with(|| json!({"venue": v}));
        let (bars, expected) = (r["bars"].as_f64().unwrap_or(0.0), r["expected"].as_f64().unwrap_or(0.0));
        entry["completeness"] = if expected > 0.0 { json!((bars / expected).min(1.0)) } else { Value::Null };
        entry["reconnects"] = r["reconnects"].clone();
        entry["recovery_p95_ms"] = r["recovery_p95_ms"].clone();
    }
    let list: Vec<Value> = venues
        .into_values()
        .map(|mut e| {
            for f in ["trades", "latency_p95_ms", "completeness", "reconnects", "recovery_p95_ms"] {
                if e.get(f).is_none() {
                    e[f] = Value::Null;
                }
            }
            e["latency_met"] = met(e["latency_p95_ms"].as_f64(), |v| v <= LATENCY_P95_TARGET_MS);
            e["completeness_met"] = met(e["completeness"].as_f64(), |v| v >= COMPLETENESS_TARGET);
            e["recovery_met"] = met(e["recovery_p95_ms"].as_f64(), |v| v <= RECOVERY_P95_TARGET_MS);
            e
        })
        .collect();
    Ok(json!({
        "from_ms": from_ms, "to_ms": to_ms,
        "targets": {"latency_p95_ms": LATENCY_P95_TARGET_MS, "completeness": COMPLETENESS_TARGET,
            "recovery_p95_ms": RECOVERY_P95_TARGET_MS},
        "venues": list,
    }))
}
