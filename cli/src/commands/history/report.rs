//! `tickwatch reconcile report`: completeness per venue, instrument and UTC day — the share
//! of the day's minutes (within the range) that have a verified 1m bar — beside what
//! reconciliation found there (corrected, backfilled, suspect bars).

use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::Settings;

const DAY_MS: i64 = 86_400_000;

#[derive(Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Start (inclusive): milliseconds since the epoch or RFC 3339.
    #[arg(long, value_parser = crate::commands::time_arg)]
    from: i64,
    /// End (exclusive; default: now).
    #[arg(long, value_parser = crate::commands::time_arg)]
    to: Option<i64>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
}

const BARS: &str = "SELECT venue, instrument, toString(toDate(open_time)) AS day, \
    countIf(verification = 'VERIFIED') AS verified, countIf(verification = 'SUSPECT') AS suspect FROM klines FINAL \
    WHERE interval = '1m' AND open_time >= fromUnixTimestamp64Milli({from:Int64}) \
    AND open_time < fromUnixTimestamp64Milli({to:Int64}) GROUP BY venue, instrument, day";

const CHECKS: &str = "SELECT venue, instrument, toString(toDate(open_time)) AS day, \
    countIf(outcome = 'CORRECTED') AS corrected, countIf(outcome = 'BACKFILLED') AS backfilled FROM kline_checks FINAL \
    WHERE open_time >= fromUnixTimestamp64Milli({from:Int64}) AND open_time < fromUnixTimestamp64Milli({to:Int64}) \
    GROUP BY venue, instrument, day";

/// Minutes of the UTC day `day` (YYYY-MM-DD) that lie in `[from, to)`.
fn minutes_in(day: &str, from: i64, to: i64) -> i64 {
    let mut parts = day.split('-').map(|p| p.parse::<i64>().unwrap_or(0));
    let (y, m, d) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let start = tickwatch_model::time::days_from_civil(y, m, d) * DAY_MS;
    let (lo, hi) = (start.max(from), (start + DAY_MS).min(to));
    ((hi - lo).max(0) + 59_999) / 60_000
}

pub async fn report(ch: &ClickHouse, from: i64, to: i64) -> anyhow::Result<Value> {
    let params = [("from".to_string(), from.to_string()), ("to".to_string(), to.to_string())];
    let mut rows: BTreeMap<(String, String, String), Value> = BTreeMap::new();
    let key = |r: &Value| {
        let s = |f: &str| r[f].as_str().unwrap_or_default().to_string();
        (s("venue"), s("instrument"), s("day"))
    };
    for r in ch.query_params(BARS, &params).await? {
        let (v, i, d) = key(&r);
        let minutes = minutes_in(&d, from, to);
        let verified = r["verified"].as_i64().unwrap_or(0);
        let share = if minutes > 0 { verified as f64 / minutes as f64 } else { 0.0 };
        rows.insert(
            (v.clone(), i.clone(), d.clone()),
            json!({"venue": v, "instrument": i, "day": d, "minutes": minutes, "verified": verified,
                   "verified_share": share, "suspect": r["suspect"], "corrected": 0, "backfilled": 0}),
        );
    }
    for r in ch.query_params(CHECKS, &params).await? {
        if let Some(row) = rows.get_mut(&key(&r)) {
            row["corrected"] = r["corrected"].clone();
            row["backfilled"] = r["backfilled"].clone();
        }
    }
    Ok(json!({"from_ms": from, "to_ms": to, "days": rows.into_values().collect::<Vec<_>>()}))
}

pub async fn run(settings: &Settings, args: ReportArgs) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| super::now_us() / 1000);
    if to <= args.from {
        anyhow::bail!("--to must be after --from");
    }
    let doc = report(&ClickHouse::new(&settings.clickhouse), args.from, to)
        .await
        .map_err(|e| anyhow::anyhow!("ClickHouse at {}: {e}", settings.clickhouse.url))?;
    match args.format {
        ReportFormat::Json => println!("{doc}"),
        ReportFormat::Table => {
            let mut out = format!(
                "{:<14} {:<18} {:<10} {:>7} {:>8} {:>9} {:>9} {:>10} {:>7}\n",
                "venue", "instrument", "day", "minutes", "verified", "share", "corrected", "backfilled", "suspect"
            );
            for r in doc["days"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "{:<14} {:<18} {:<10} {:>7} {:>8} {:>8.2}% {:>9} {:>10} {:>7}",
                    r["venue"].as_str().unwrap_or_default(),
                    r["instrument"].as_str().unwrap_or_default(),
                    r["day"].as_str().unwrap_or_default(),
                    r["minutes"],
                    r["verified"],
                    r["verified_share"].as_f64().unwrap_or(0.0) * 100.0,
                    r["corrected"],
                    r["backfilled"],
                    r["suspect"]
                );
            }
            print!("{out}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_days_minutes_are_clipped_to_the_range() {
        let day = 20_416 * super::DAY_MS; // 2025-11-24
        assert_eq!(super::minutes_in("2025-11-24", 0, i64::MAX), 1_440);
        assert_eq!(super::minutes_in("2025-11-24", day + 600_000, day + 1_800_000), 20);
        assert_eq!(super::minutes_in("2025-11-25", day, day + 1_800_000), 0);
    }
}
