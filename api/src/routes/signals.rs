//! Spreads between venues, index/mark divergence and PriceSmooth. Without `from` each answers
//! the latest value per series from memory; with `from` the history from ClickHouse.

use super::{Answer, AppState, Given, History};
use crate::limit::Caller;
use crate::params::Params;
use axum::Extension;

const HOUR_MS: i64 = 3_600_000;

const SPREADS: &str =
    "SELECT venue, venue_b, instrument, value, unit, toUnixTimestamp64Milli(at) AS at_ms FROM signals FINAL";
const DIVERGENCE: &str =
    "SELECT venue, instrument, value, unit, toUnixTimestamp64Milli(at) AS at_ms FROM signals FINAL";
const SIGNAL_KEYS: &[(&str, &str)] =
    &[("toUnixTimestamp64Micro(at)", "Int64"), ("venue", "String"), ("venue_b", "String")];

fn wants(filter: &Option<String>, have: &str) -> bool {
    filter.as_ref().is_none_or(|f| f == have)
}

pub async fn spreads(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let s = app.series(&mut p, &caller, false, false)?;
    let venue_b = p.opt("venue_b");
    if p.opt("from").is_none() {
        // key: instrument, venue, venue_b; either side of the pair matches `venue`.
        let hot = app.hot.spreads(|k| {
            wants(&s.instrument, &k[0])
                && (wants(&s.venue, &k[1]) || wants(&s.venue, &k[2]))
                && wants(&venue_b, &k[2])
                && (caller.may_read(&k[1]).is_ok() && caller.may_read(&k[2]).is_ok())
        });
        return app.latest_page(&mut p, hot);
    }
    history(app, p, "spread", s, venue_b).await
}

pub async fn divergence(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let s = app.series(&mut p, &caller, false, false)?;
    if p.opt("from").is_none() {
        let hot = app
            .hot
            .divergence(|k| wants(&s.instrument, &k[0]) && wants(&s.venue, &k[1]) && caller.may_read(&k[1]).is_ok());
        return app.latest_page(&mut p, hot);
    }
    history(app, p, "divergence", s, None).await
}

async fn history(app: &crate::App, mut p: Params, kind: &str, s: super::Series, venue_b: Option<String>) -> Answer {
    let range = app.range(&mut p, HOUR_MS)?;
    let limit = app.limit(&mut p)?;
    let cursor = p.opt("cursor");
    p.finish()?;
    let mut q = History::new(if kind == "spread" { SPREADS } else { DIVERGENCE }, SIGNAL_KEYS)
        .equal("kind", &Some(kind.to_string()))
        .equal("instrument", &s.instrument)
        .equal("venue_b", &venue_b)
        .time_range("at", range);
    if let Some(v) = s.venue {
        // A pair is stored once, in name order: the venue may be either side.
        q = q.when("(venue = {either:String} OR venue_b = {either:String})", &[("either", v)]);
    }
    app.history(q, limit, cursor).await
}

const SMOOTH: &str = "SELECT instrument, toUnixTimestamp64Milli(tick) AS tick_ms, toString(price) AS price, \
    toString(target) AS target, toString(state) AS state, toUnixTimestamp64Milli(ramp_end) AS ramp_end_ms, sources \
    FROM price_smooth FINAL";

pub async fn smooth(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let instrument = p.opt("instrument");
    if let Some(i) = &instrument {
        if !app.catalog.values().flatten().any(|x| x == i) {
            return Err(crate::error::ApiError::UnknownInstrument { venue: "any venue".into(), instrument: i.clone() });
        }
    }
    let _ = caller;
    if p.opt("from").is_none() {
        let hot = app.hot.smooth(|k| wants(&instrument, &k[0]));
        return app.latest_page(&mut p, hot);
    }
    let range = app.range(&mut p, HOUR_MS)?;
    let limit = app.limit(&mut p)?;
    let cursor = p.opt("cursor");
    p.finish()?;
    let q = History::new(SMOOTH, &[("toUnixTimestamp64Micro(tick)", "Int64"), ("instrument", "String")])
        .equal("instrument", &instrument)
        .time_range("tick", range);
    app.history(q, limit, cursor).await
}
