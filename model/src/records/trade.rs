use crate::avro::avro_record;
use crate::codec::{avro_enum, avro_fields};
use crate::decimal::Decimal;
use crate::instrument::InstrumentKind;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

/// The aggressor's side, where the venue tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TakerSide {
    #[default]
    Unknown,
    Buy,
    Sell,
}
avro_enum!(TakerSide, Unknown, Buy, Sell);

/// A trade as the venue reported it (topic `raw.trades`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawTrade {
    pub venue: String,
    pub market: String,
    pub symbol: String,
    pub trade_id: String,
    pub price: Decimal,
    pub size: Decimal,
    pub taker_side: TakerSide,
    pub event_time_us: UnixMicros,
    pub receive_time_us: UnixMicros,
    pub sequence: Option<i64>,
}
avro_fields!(RawTrade {
    venue,
    market,
    symbol,
    trade_id,
    price,
    size,
    taker_side,
    event_time_us,
    receive_time_us,
    sequence
});
avro_record!(RawTrade, "RawTrade", "raw_trade.avsc");

/// A normalized trade (topic `trades`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub venue: String,
    pub instrument: String,
    pub base: String,
    pub quote: String,
    pub kind: InstrumentKind,
    pub expiry_us: Option<UnixMicros>,
    pub venue_symbol: String,
    pub trade_id: String,
    pub price: Decimal,
    pub size: Decimal,
    pub taker_side: TakerSide,
    pub event_time_us: UnixMicros,
    pub receive_time_us: UnixMicros,
    pub source_lag_ms: i64,
    pub sequence: Option<i64>,
}
avro_fields!(Trade {
    venue,
    instrument,
    base,
    quote,
    kind,
    expiry_us,
    venue_symbol,
    trade_id,
    price,
    size,
    taker_side,
    event_time_us,
    receive_time_us,
    source_lag_ms,
    sequence
});
avro_record!(Trade, "Trade", "trade.avsc");
