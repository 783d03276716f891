//! Data quality: per-minute rows, the per-instrument summary the dashboard shows, and the SLO
//! report.

use super::{items, Answer, AppState, Given, History};
use crate::limit::Caller;
use crate::params::Params;
use axum::{Extension, Json};

const HOUR_MS: i64 = 3_600_000;

const MINUTES: &str =
    "SELECT venue, instrument, channel, toUnixTimestamp64Milli(minute) AS minute_ms, messages, gaps, \
    lost_messages, out_of_order, duplicates, reconnects, resyncs, quarantined, max_silence_ms, source_lag_p95_ms \
    FROM data_quality_minute FINAL";

pub async fn minutes(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let s = app.series(&mut p, &caller, false, false)?;
    let channel = p.opt("channel");
    let range = app.range(&mut p, HOUR_MS)?;
    let limit = app.limit(&mut p)?;
    let cursor = p.opt("cursor");
    p.finish()?;
    let q = History::new(
        MINUTES,
        &[
            ("toUnixTimestamp64Micro(minute)", "Int64"),
            ("venue", "String"),
            ("instrument", "String"),
            ("channel", "String"),
        ],
    )
    .equal("venue", &s.venue)
    .equal("instrument", &s.instrument)
    .equal("channel", &channel)
    .time_range("minute", range);
    app.history(q, limit, cursor).await
}

/// Per venue and instrument over the range: messages, gaps and reconnects (all channels),
/// the P95 of the per-minute source-lag P95s, and completeness: the share of minutes with a
/// 1m k-line, counted from the instrument's first observed minute in the range to the end of
/// the range (or now).
const SUMMARY: &str = concat!(
    "SELECT venue, instrument, minutes, messages, gaps, reconnects, lag_p95_ms, \
    if(expected <= 0, NULL, least(1, bars / expected)) AS completeness FROM ( \
      SELECT q.venue AS venue, q.instrument AS instrument, q.minutes AS minutes, q.messages AS messages, q.gaps AS gaps, \
        q.reconnects AS reconnects, q.lag_p95_ms AS lag_p95_ms, k.bars AS bars, ",
    expected_minutes!(),
    " AS expected FROM ( \
        SELECT venue, instrument, uniqExact(minute) AS minutes, sum(messages) AS messages, sum(gaps) AS gaps, \
          sum(reconnects) AS reconnects, quantileOrNull(0.95)(source_lag_p95_ms) AS lag_p95_ms, min(minute) AS first_minute \
        FROM data_quality_minute FINAL \
        WHERE minute >= fromUnixTimestamp64Milli({from:Int64}) AND minute < fromUnixTimestamp64Milli({to:Int64}) \
        GROUP BY venue, instrument \
      ) AS q LEFT JOIN (",
    bars_1m_in_range!(),
    ") AS k USING (venue, instrument))"
);

pub async fn summary(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let s = app.series(&mut p, &caller, false, false)?;
    let (from, to) = app.range(&mut p, HOUR_MS)?;
    p.finish()?;
    let q = History::new(SUMMARY, &[("venue", "String"), ("instrument", "String")])
        .when("1", &[("from", from.to_string()), ("to", to.to_string())])
        .equal("venue", &s.venue)
        .equal("instrument", &s.instrument);
    // One row per series: a single page of at most max_limit rows.
    let page = match app.history(q, app.cfg.limits.max_limit, None).await? {
        super::Reply::Text(t) => serde_json::from_str::<serde_json::Value>(&t)
            .map_err(|e| crate::error::ApiError::Unavailable(format!("unreadable summary: {e}")))?,
        super::Reply::Value(v) => v.0,
    };
    let rows: Vec<serde_json::Value> = page["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["venue"].as_str().is_none_or(|v| caller.may_read(v).is_ok()))
        .collect();
    Ok(items(rows))
}

pub async fn slo(state: AppState, Extension(_caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let (from, to) = app.range(&mut p, 86_400_000)?;
    p.finish()?;
    Ok(Json(crate::slo::report(&app.clickhouse, from, to).await?).into())
}
