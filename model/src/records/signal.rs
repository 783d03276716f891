use crate::avro::avro_record;
use crate::codec::{avro_enum, avro_fields};
use crate::decimal::Decimal;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

/// One value of a derived series the alert rules watch (topic `signals`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub kind: String,
    pub venue: String,
    pub venue_b: Option<String>,
    pub instrument: String,
    pub channel: Option<String>,
    pub interval: Option<String>,
    pub value: f64,
    pub unit: String,
    pub at_us: UnixMicros,
    pub emitted_at_us: UnixMicros,
}
avro_fields!(Signal { kind, venue, venue_b, instrument, channel, interval, value, unit, at_us, emitted_at_us });
avro_record!(Signal, "Signal", "signal.avsc");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SmoothState {
    Steady,
    Ramping,
}
avro_enum!(SmoothState, Steady, Ramping);

/// One tick of PriceSmooth (topic `price.smooth`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmoothPrice {
    pub instrument: String,
    pub tick_us: UnixMicros,
    pub price: Decimal,
    pub target: Decimal,
    pub state: SmoothState,
    pub ramp_end_us: Option<UnixMicros>,
    pub sources: i32,
    pub version: i64,
    pub emitted_at_us: UnixMicros,
}
avro_fields!(SmoothPrice { instrument, tick_us, price, target, state, ramp_end_us, sources, version, emitted_at_us });
avro_record!(SmoothPrice, "SmoothPrice", "smooth_price.avsc");
