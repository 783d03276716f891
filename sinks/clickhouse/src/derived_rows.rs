//! Rows of the derived-series tables (schemas/clickhouse/005_signals.sql): `signals` and
//! `price_smooth`. Same conventions as `rows`.

use crate::rows::HotTable;
use clickhouse::Row;
use serde::Serialize;
use tickwatch_model::{Signal, SmoothPrice, SmoothState};

#[derive(Row, Serialize)]
pub struct SignalRow<'a> {
    kind: &'a str,
    venue: &'a str,
    venue_b: &'a str,
    instrument: &'a str,
    channel: &'a str,
    interval: &'a str,
    value: f64,
    unit: &'a str,
    at: i64,
    emitted_at: i64,
}

impl HotTable for Signal {
    type Row = SignalRow<'static>;
    const TABLE: &'static str = "signals";
    fn row(&self) -> SignalRow<'_> {
        SignalRow {
            kind: &self.kind,
            venue: &self.venue,
            venue_b: self.venue_b.as_deref().unwrap_or_default(),
            instrument: &self.instrument,
            channel: self.channel.as_deref().unwrap_or_default(),
            interval: self.interval.as_deref().unwrap_or_default(),
            value: self.value,
            unit: &self.unit,
            at: self.at_us,
            emitted_at: self.emitted_at_us,
        }
    }
}

#[derive(Row, Serialize)]
pub struct SmoothRow<'a> {
    instrument: &'a str,
    tick: i64,
    price: i128,
    target: i128,
    state: i8,
    ramp_end: Option<i64>,
    sources: i32,
    version: i64,
    emitted_at: i64,
}

impl HotTable for SmoothPrice {
    type Row = SmoothRow<'static>;
    const TABLE: &'static str = "price_smooth";
    fn row(&self) -> SmoothRow<'_> {
        SmoothRow {
            instrument: &self.instrument,
            tick: self.tick_us,
            price: self.price.units(),
            target: self.target.units(),
            state: match self.state {
                SmoothState::Steady => 1,
                SmoothState::Ramping => 2,
            },
            ramp_end: self.ramp_end_us,
            sources: self.sources,
            version: self.version,
            emitted_at: self.emitted_at_us,
        }
    }
}
