use crate::avro::avro_record;
use crate::codec::{avro_enum, avro_fields};
use crate::decimal::Decimal;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

/// Whether a bar has been checked against the venue's own k-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KlineVerification {
    #[default]
    Unverified,
    Verified,
    Suspect,
}
avro_enum!(KlineVerification, Unverified, Verified, Suspect);

/// An OHLCV bar (topics `kline.<interval>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kline {
    pub venue: String,
    pub instrument: String,
    pub interval: String,
    pub open_time_us: UnixMicros,
    pub close_time_us: UnixMicros,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub quote_volume: Decimal,
    pub vwap: Decimal,
    pub trade_count: i64,
    pub taker_buy_volume: Decimal,
    pub taker_buy_quote_volume: Decimal,
    pub first_trade_id: String,
    pub last_trade_id: String,
    pub version: i64,
    pub verification: KlineVerification,
    pub emitted_at_us: UnixMicros,
}
avro_fields!(Kline {
    venue,
    instrument,
    interval,
    open_time_us,
    close_time_us,
    open,
    high,
    low,
    close,
    volume,
    quote_volume,
    vwap,
    trade_count,
    taker_buy_volume,
    taker_buy_quote_volume,
    first_trade_id,
    last_trade_id,
    version,
    verification,
    emitted_at_us
});
avro_record!(Kline, "Kline", "kline.avsc");
