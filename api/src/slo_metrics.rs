//! The SLO figures from the stages' metrics, read from Prometheus (the HTTP query API) over
//! the same range as the ClickHouse report: P95 of `event_end2end_latency_ms` for trades
//! (receipt to the row acknowledged), P95 of `book_resync_seconds` (a disconnect or break to
//! the book rebuilt) and the reconnects, per venue. They complement the ClickHouse figures:
//! those are what the rows say, these what the stages timed themselves.

use crate::slo::{LATENCY_P95_TARGET_MS, RECOVERY_P95_TARGET_MS};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Per venue, the metrics figures (`latency_p95_ms`, `recovery_p95_ms`, `reconnects`, and
/// whether each target was met).
pub async fn by_venue(prometheus: &str, from_ms: i64, to_ms: i64) -> Result<BTreeMap<String, Value>, String> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| e.to_string())?;
    let range = format!("{}s", ((to_ms - from_ms) / 1000).max(1));
    let queries = [
        (
            "latency_p95_ms",
            format!(
                "histogram_quantile(0.95, sum by (venue, le) (increase(event_end2end_latency_ms_bucket{{table=\"trades\"}}[{range}])))"
            ),
        ),
        (
            "recovery_p95_ms",
            format!("1000 * histogram_quantile(0.95, sum by (venue, le) (increase(book_resync_seconds_bucket[{range}])))"),
        ),
        ("reconnects", format!("sum by (venue) (increase(ws_reconnects_total[{range}]))")),
    ];
    let mut venues: BTreeMap<String, Value> = BTreeMap::new();
    for (field, promql) in queries {
        for (venue, value) in instant(&client, prometheus, &promql, to_ms).await? {
            venues.entry(venue).or_insert_with(|| json!({}))[field] = value.map_or(Value::Null, |v| json!(v));
        }
    }
    for entry in venues.values_mut() {
        for field in ["latency_p95_ms", "recovery_p95_ms", "reconnects"] {
            if entry.get(field).is_none() {
                entry[field] = Value::Null;
            }
        }
        // `increase` extrapolates to the range's edges: whole reconnects are what happened.
        entry["reconnects"] = entry["reconnects"].as_f64().map_or(Value::Null, |n| json!(n.round() as i64));
        entry["latency_met"] = met(entry["latency_p95_ms"].as_f64(), |v| v <= LATENCY_P95_TARGET_MS);
        entry["recovery_met"] = met(entry["recovery_p95_ms"].as_f64(), |v| v <= RECOVERY_P95_TARGET_MS);
    }
    Ok(venues)
}

fn met(value: Option<f64>, ok: impl Fn(f64) -> bool) -> Value {
    value.map_or(Value::Null, |v| json!(ok(v)))
}

/// An instant query at `at_ms`: each series' `venue` label and value (`None` for NaN, which
/// a quantile of no observations is).
async fn instant(
    client: &reqwest::Client,
    prometheus: &str,
    promql: &str,
    at_ms: i64,
) -> Result<Vec<(String, Option<f64>)>, String> {
    let url = format!("{}/api/v1/query", prometheus.trim_end_matches('/'));
    let at = format!("{:.3}", at_ms as f64 / 1000.0);
    let answer = client.get(&url).query(&[("query", promql), ("time", at.as_str())]).send().await;
    let answer = answer.map_err(|e| format!("Prometheus at {prometheus}: {e}"))?;
    let status = answer.status();
    let doc: Value = answer.json().await.map_err(|e| format!("Prometheus at {prometheus}: not JSON: {e}"))?;
    if !status.is_success() || doc["status"] != "success" {
        return Err(format!("Prometheus at {prometheus} refused `{promql}`: {}", doc["error"].as_str().unwrap_or("?")));
    }
    Ok(doc["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let venue = r["metric"]["venue"].as_str().unwrap_or_default().to_string();
            let value = r["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite());
            (venue, value)
        })
        .collect())
}
