//! `tickwatch slo`: the SLO report per venue over a range, from ClickHouse — end-to-end latency
//! P95, minute OHLCV completeness and reconnect recovery P95, each against its target. The
//! same report as the API's `/api/v1/slo` (`tickwatch_api::slo`); with `--prometheus`, each
//! venue also gets the figures the stages' metrics give (`tickwatch_api::slo_metrics`).

use clap::{Args, ValueEnum};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use tickwatch_api::{slo, slo_metrics};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::Settings;

#[derive(Clone, Copy, ValueEnum)]
pub enum SloFormat {
    Table,
    Json,
}

#[derive(Args)]
pub struct SloArgs {
    /// Start of the range (inclusive): milliseconds since the epoch or RFC 3339.
    #[arg(long, value_parser = super::time_arg)]
    from: i64,
    /// End of the range (exclusive; default: now).
    #[arg(long, value_parser = super::time_arg)]
    to: Option<i64>,
    /// A table for people, or the API's JSON document.
    #[arg(long, value_enum, default_value_t = SloFormat::Table)]
    format: SloFormat,
    /// Prometheus that scrapes the stages (e.g. http://127.0.0.1:9090): adds each venue's
    /// latency P95, recovery P95 and reconnects from the metrics (`metrics` in the JSON).
    #[arg(long, env = "TICKWATCH_PROMETHEUS_URL")]
    prometheus: Option<String>,
}

pub async fn run(settings: &Settings, args: SloArgs) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| tickwatch_runtime::produce::now_us() / 1000);
    if to <= args.from {
        anyhow::bail!("--to must be after --from");
    }
    let mut report = slo::report(&ClickHouse::new(&settings.clickhouse), args.from, to)
        .await
        .map_err(|e| anyhow::anyhow!("ClickHouse at {}: {e}", settings.clickhouse.url))?;
    if let Some(url) = &args.prometheus {
        let from_metrics = slo_metrics::by_venue(url, args.from, to).await.map_err(anyhow::Error::msg)?;
        merge_metrics(&mut report, from_metrics);
    }
    match args.format {
        SloFormat::Json => println!("{report}"),
        SloFormat::Table => print!("{}", table(&report)),
    }
    Ok(())
}

/// Each venue's metrics figures go in its `metrics` field; a venue only the metrics know (no
/// rows in the range) gets a line of its own.
fn merge_metrics(report: &mut Value, mut from_metrics: BTreeMap<String, Value>) {
    let venues = report["venues"].as_array_mut().expect("the report lists venues");
    for v in venues.iter_mut() {
        let name = v["venue"].as_str().unwrap_or_default().to_string();
        v["metrics"] = from_metrics.remove(&name).unwrap_or(Value::Null);
    }
    for (name, m) in from_metrics {
        let mut v = serde_json::json!({"venue": name, "metrics": m});
        for f in ["trades", "latency_p95_ms", "latency_met", "completeness", "completeness_met", "reconnects"] {
            v[f] = Value::Null;
        }
        v["recovery_p95_ms"] = Value::Null;
        v["recovery_met"] = Value::Null;
        venues.push(v);
    }
    venues.sort_by(|a, b| a["venue"].as_str().cmp(&b["venue"].as_str()));
}

/// One line per venue; a figure with no data is `-`, a missed target is marked `MISSED`.
fn table(report: &Value) -> String {
    let mut s = String::new();
    let t = &report["targets"];
    let _ = writeln!(
        s,
        "targets: latency P95 <= {} ms, completeness >= {} %, reconnect recovery P95 <= {} ms",
        t["latency_p95_ms"],
        t["completeness"].as_f64().unwrap_or_default() * 100.0,
        t["recovery_p95_ms"]
    );
    let _ = writeln!(
        s,
        "{:<14} {:>10} {:>18} {:>16} {:>11} {:>20}",
        "venue", "trades", "latency P95 ms", "completeness %", "reconnects", "recovery P95 ms"
    );
    let cell = |v: &Value, met: &Value, scale: f64| match v.as_f64() {
        None => "-".to_string(),
        Some(x) => format!("{}{}", if met == &Value::Bool(false) { "MISSED " } else { "" }, fmt(x * scale)),
    };
    for v in report["venues"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "{:<14} {:>10} {:>18} {:>16} {:>11} {:>20}",
            v["venue"].as_str().unwrap_or_default(),
            v["trades"].as_i64().map_or("-".into(), |n| n.to_string()),
            cell(&v["latency_p95_ms"], &v["latency_met"], 1.0),
            cell(&v["completeness"], &v["completeness_met"], 100.0),
            v["reconnects"].as_i64().map_or("-".into(), |n| n.to_string()),
            cell(&v["recovery_p95_ms"], &v["recovery_met"], 1.0),
        );
    }
    let with_metrics: Vec<&Value> =
        report["venues"].as_array().into_iter().flatten().filter(|v| v["metrics"].is_object()).collect();
    if !with_metrics.is_empty() {
        let _ = writeln!(s, "\nfrom the stages' metrics (Prometheus):");
        let _ = writeln!(s, "{:<14} {:>18} {:>11} {:>20}", "venue", "latency P95 ms", "reconnects", "recovery P95 ms");
        for v in with_metrics {
            let m = &v["metrics"];
            let _ = writeln!(
                s,
                "{:<14} {:>18} {:>11} {:>20}",
                v["venue"].as_str().unwrap_or_default(),
                cell(&m["latency_p95_ms"], &m["latency_met"], 1.0),
                m["reconnects"].as_i64().map_or("-".into(), |n| n.to_string()),
                cell(&m["recovery_p95_ms"], &m["recovery_met"], 1.0),
            );
        }
    }
    s
}

fn fmt(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_marks_missed_targets_and_missing_figures() {
        let report = json!({
            "targets": {"latency_p95_ms": 2000.0, "completeness": 0.999, "recovery_p95_ms": 3000.0},
            "venues": [
                {"venue": "binance", "trades": 10, "latency_p95_ms": 12.5, "latency_met": true,
                 "completeness": 1.0, "completeness_met": true, "reconnects": 0,
                 "recovery_p95_ms": null, "recovery_met": null},
                {"venue": "okx", "trades": null, "latency_p95_ms": null, "latency_met": null,
                 "completeness": 0.75, "completeness_met": false, "reconnects": 1,
                 "recovery_p95_ms": 4100.0, "recovery_met": false}
            ]
        });
        let text = table(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("completeness >= 99.9 %"), "{text}");
        assert!(lines[2].starts_with("binance") && lines[2].contains("12.5") && lines[2].contains("100"), "{text}");
        assert!(!lines[2].contains("MISSED"), "{text}");
        assert!(lines[3].contains("MISSED 75") && lines[3].contains("MISSED 4100"), "{text}");
        assert_eq!(lines[3].split_whitespace().nth(1), Some("-"), "{text}");
        assert!(!text.contains("Prometheus"), "no metrics section without --prometheus: {text}");
    }

    #[test]
    fn metrics_figures_join_their_venue_or_add_one() {
        let mut report = json!({
            "targets": {"latency_p95_ms": 2000.0, "completeness": 0.999, "recovery_p95_ms": 3000.0},
            "venues": [{"venue": "okx", "trades": 3, "latency_p95_ms": 10.0, "latency_met": true,
                        "completeness": null, "completeness_met": null, "reconnects": 0,
                        "recovery_p95_ms": null, "recovery_met": null}]
        });
        let metrics = BTreeMap::from([
            (
                "okx".to_string(),
                json!({"latency_p95_ms": 40.0, "latency_met": true, "reconnects": 2,
                                        "recovery_p95_ms": 3500.0, "recovery_met": false}),
            ),
            (
                "binance-usdm".to_string(),
                json!({"latency_p95_ms": null, "latency_met": null, "reconnects": 1,
                                                 "recovery_p95_ms": 120.0, "recovery_met": true}),
            ),
        ]);
        merge_metrics(&mut report, metrics);
        let venues = report["venues"].as_array().unwrap();
        assert_eq!(venues.len(), 2);
        assert_eq!(venues[0]["venue"], "binance-usdm");
        assert!(venues[0]["trades"].is_null() && venues[0]["metrics"]["reconnects"] == 1);
        assert_eq!(venues[1]["metrics"]["recovery_p95_ms"], 3500.0);
        let text = table(&report);
        let tail: Vec<&str> = text.lines().skip_while(|l| !l.contains("Prometheus")).collect();
        assert_eq!(tail.len(), 4, "{text}");
        assert!(
            tail[2].starts_with("binance-usdm") && tail[2].contains("120") && !tail[2].contains("MISSED"),
            "{text}"
        );
        assert!(tail[3].starts_with("okx") && tail[3].contains("MISSED 3500") && tail[3].contains(" 2 "), "{text}");
    }
}
