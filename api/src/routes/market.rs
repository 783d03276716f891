//! Market data: the instrument list, latest values, the order book, k-lines and factors.

use super::{items, Answer, AppState, Given, History};
use crate::error::ApiError;
use crate::limit::Caller;
use crate::params::Params;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

pub async fn instruments(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let venue = p.opt("venue");
    p.finish()?;
    if let Some(v) = &venue {
        if !app.catalog.contains_key(v) {
            return Err(ApiError::bad("venue", format!("unknown venue `{v}`")));
        }
    }
    let mut out = Vec::new();
    for (v, list) in &app.catalog {
        if venue.as_ref().is_some_and(|want| want != v) || caller.may_read(v).is_err() {
            continue;
        }
        for i in list {
            let kind = match i.parse::<tickwatch_model::InstrumentId>() {
                Ok(id) => format!("{:?}", id.kind).to_ascii_uppercase(),
                Err(_) => "UNKNOWN".into(),
            };
            let symbol = app.symbols.get(&(v.clone(), i.clone())).cloned().unwrap_or_default();
            out.push(json!({"venue": v, "instrument": i, "kind": kind, "venue_symbol": symbol}));
        }
    }
    Ok(items(out))
}

/// The latest trade, reference prices and book top per venue and instrument, from memory.
pub async fn latest(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let want = app.series(&mut p, &caller, false, false)?;
    p.finish()?;
    let mut out = Vec::new();
    for (venue, list) in &app.catalog {
        if want.venue.as_ref().is_some_and(|v| v != venue) || caller.may_read(venue).is_err() {
            continue;
        }
        for instrument in list {
            if want.instrument.as_ref().is_some_and(|i| i != instrument) {
                continue;
            }
            let l = app.hot.latest(venue, instrument);
            if l.trade.is_none() && l.reference.is_none() && l.book_top.is_none() {
                continue;
            }
            out.push(json!({"venue": venue, "instrument": instrument, "trade": l.trade, "reference": l.reference,
                "book_top": l.book_top}));
        }
    }
    Ok(items(out))
}

/// The book worker's latest top levels (Redis), at most `depth` each side.
pub async fn book(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = state.0.clone();
    let mut p = Params::new(q.0);
    let s = app.series(&mut p, &caller, true, true)?;
    let depth = p.positive("depth", 20, tickwatch_runtime::hot_book::LEVELS as u32)? as usize;
    p.finish()?;
    let (venue, instrument) = (s.venue.unwrap_or_default(), s.instrument.unwrap_or_default());
    let key = tickwatch_runtime::hot_book::key(&venue, &instrument);
    let snapshot = match app.book_cache.get(&key) {
        Some(hit) => hit,
        None => {
            let (app2, key2) = (app.clone(), key.clone());
            let read = tokio::task::spawn_blocking(move || {
                let mut store = app2.books.lock().unwrap_or_else(|p| p.into_inner());
                store.get::<Value>(&key2, tickwatch_runtime::hot_book::SCHEMA)
            })
            .await
            .map_err(|e| ApiError::Unavailable(format!("book read failed: {e}")))??;
            let read = read.map(Arc::new);
            app.book_cache.put(key, read.clone());
            read
        }
    };
    let Some(book) = snapshot else {
        return Err(ApiError::NotFound(format!(
            "no current book for {instrument} on {venue}: the book worker (`tickwatch windows book`) has not published one in the last minute"
        )));
    };
    let mut out = (*book).clone();
    for side in ["bids", "asks"] {
        if let Some(levels) = out[side].as_array_mut() {
            levels.truncate(depth);
        }
    }
    out["venue"] = json!(venue);
    out["instrument"] = json!(instrument);
    Ok(Json(out).into())
}

const KLINES: &str =
    "SELECT toUnixTimestamp64Milli(open_time) AS open_time_ms, toUnixTimestamp64Milli(close_time) AS close_time_ms, \
    toString(open) AS open, toString(high) AS high, toString(low) AS low, toString(close) AS close, \
    toString(volume) AS volume, toString(quote_volume) AS quote_volume, toString(vwap) AS vwap, trade_count, \
    toString(taker_buy_volume) AS taker_buy_volume, toString(verification) AS verification, version FROM klines FINAL";

pub async fn klines(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let s = app.series(&mut p, &caller, true, true)?;
    let interval = interval(app, &mut p)?;
    let range = app.range(&mut p, DAY_MS)?;
    let limit = app.limit(&mut p)?;
    let cursor = p.opt("cursor");
    p.finish()?;
    let q = History::new(KLINES, &[("toUnixTimestamp64Micro(open_time)", "Int64")])
        .equal("venue", &s.venue)
        .equal("instrument", &s.instrument)
        .equal("interval", &Some(interval))
        .time_range("open_time", range);
    app.history(q, limit, cursor).await
}

pub async fn factors(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let s = app.series(&mut p, &caller, true, true)?;
    let interval = interval(app, &mut p)?;
    let (from, to) = app.range(&mut p, DAY_MS)?;
    let limit = app.limit(&mut p)?;
    let cursor = p.opt("cursor");
    p.finish()?;
    // The joined rows are filtered and paged outside: wrap the join as a subquery.
    let q = History::new(FACTORS_PAGED, &[("toUnixTimestamp64Micro(w)", "Int64")]).when(
        "1",
        &[
            ("venue", s.venue.unwrap_or_default()),
            ("instrument", s.instrument.unwrap_or_default()),
            ("interval", interval),
            ("from", from.to_string()),
            ("to", to.to_string()),
        ],
    );
    app.history(q, limit, cursor).await
}

/// VWAP (from the k-lines) and order-book imbalance and depth (from the book windows) per
/// window; a window with only one of them has the other's fields null. `History` appends
/// `WHERE … ORDER BY … LIMIT`, so the join is the FROM of an outer query.
const FACTORS_PAGED: &str = "SELECT window_start_ms, vwap, imbalance, bid_depth, ask_depth FROM (SELECT w, \
    toUnixTimestamp64Milli(w) AS window_start_ms, toString(k.vwap) AS vwap, b.imbalance AS imbalance, \
    toString(b.bid_depth) AS bid_depth, toString(b.ask_depth) AS ask_depth FROM ( \
      SELECT open_time AS w, vwap FROM klines FINAL \
      WHERE venue = {venue:String} AND instrument = {instrument:String} AND interval = {interval:String} \
        AND open_time >= fromUnixTimestamp64Milli({from:Int64}) AND open_time < fromUnixTimestamp64Milli({to:Int64}) \
    ) AS k FULL OUTER JOIN ( \
      SELECT window_start AS w, imbalance, bid_depth, ask_depth FROM book_tops FINAL \
      WHERE venue = {venue:String} AND instrument = {instrument:String} AND interval = {interval:String} \
        AND window_start >= fromUnixTimestamp64Milli({from:Int64}) AND window_start < fromUnixTimestamp64Milli({to:Int64}) \
    ) AS b USING (w) SETTINGS join_use_nulls = 1)";

fn interval(app: &crate::App, p: &mut Params) -> Result<String, ApiError> {
    let allowed: Vec<&str> = app.intervals.iter().map(String::as_str).collect();
    let default = if allowed.contains(&"1m") { "1m" } else { allowed.first().copied().unwrap_or("1m") };
    p.choice("interval", &allowed, default)
}
