use crate::avro::avro_record;
use crate::codec::avro_fields;
use crate::decimal::Decimal;
use crate::instrument::InstrumentKind;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

/// Mark / index / funding as the venue sent them; any subset may be present (topic `raw.reference`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawReferencePrice {
    pub venue: String,
    pub market: String,
    pub symbol: String,
    pub mark_price: Option<Decimal>,
    pub index_price: Option<Decimal>,
    pub funding_rate: Option<Decimal>,
    pub next_funding_time_us: Option<UnixMicros>,
    pub event_time_us: UnixMicros,
    pub receive_time_us: UnixMicros,
}
avro_fields!(RawReferencePrice {
    venue,
    market,
    symbol,
    mark_price,
    index_price,
    funding_rate,
    next_funding_time_us,
    event_time_us,
    receive_time_us
});
avro_record!(RawReferencePrice, "RawReferencePrice", "raw_reference_price.avsc");

/// Normalized mark / index / funding (topic `reference`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencePrice {
    pub venue: String,
    pub instrument: String,
    pub base: String,
    pub quote: String,
    pub kind: InstrumentKind,
    pub expiry_us: Option<UnixMicros>,
    pub venue_symbol: String,
    pub mark_price: Option<Decimal>,
    pub index_price: Option<Decimal>,
    pub funding_rate: Option<Decimal>,
    pub next_funding_time_us: Option<UnixMicros>,
    pub event_time_us: UnixMicros,
    pub receive_time_us: UnixMicros,
    pub source_lag_ms: i64,
}
avro_fields!(ReferencePrice {
    venue,
    instrument,
    base,
    quote,
    kind,
    expiry_us,
    venue_symbol,
    mark_price,
    index_price,
    funding_rate,
    next_funding_time_us,
    event_time_us,
    receive_time_us,
    source_lag_ms
});
avro_record!(ReferencePrice, "ReferencePrice", "reference_price.avsc");
