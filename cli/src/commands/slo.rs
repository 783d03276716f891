//! `tickwatch slo`: the SLO report per venue over a range, from ClickHouse — end-to-end latency
//! P95, minute OHLCV completeness and reconnect recovery P95, each against its target. The
//! same report as the API's `/api/v1/slo` (`tickwatch_api::slo`).

use clap::{Args, ValueEnum};
use serde_json::Value;
use std::fmt::Write;
use tickwatch_api::params::parse_time_ms;
use tickwatch_api::slo;
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
    #[arg(long, value_parser = time_arg)]
    from: i64,
    /// End of the range (exclusive; default: now).
    #[arg(long, value_parser = time_arg)]
    to: Option<i64>,
    /// A table for people, or the API's JSON document.
    #[arg(long, value_enum, default_value_t = SloFormat::Table)]
    format: SloFormat,
}

fn time_arg(text: &str) -> Result<i64, String> {
    parse_time_ms(text).ok_or_else(|| format!("`{text}` is neither milliseconds nor RFC 3339 (2026-12-01T00:00:00Z)"))
}

pub async fn run(settings: &Settings, args: SloArgs) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| tickwatch_runtime::produce::now_us() / 1000);
    if to <= args.from {
        anyhow::bail!("--to must be after --from");
    }
    let report = slo::report(&ClickHouse::new(&settings.clickhouse), args.from, to)
        .await
        .map_err(|e| anyhow::anyhow!("ClickHouse at {}: {e}", settings.clickhouse.url))?;
    match args.format {
        SloFormat::Json => println!("{report}"),
        SloFormat::Table => print!("{}", table(&report)),
    }
    Ok(())
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
    }
}
