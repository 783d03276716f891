use crate::avro::avro_record;
use crate::codec::{avro_enum, avro_fields};
use crate::decimal::Decimal;
use crate::instrument::InstrumentKind;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BookUpdateKind {
    /// Replaces the whole book.
    Snapshot,
    /// Upserts levels; size 0 deletes a level.
    Delta,
}
avro_enum!(BookUpdateKind, Snapshot, Delta);

/// One price level; `size` is the absolute quantity resting there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PriceLevel {
    pub price: Decimal,
    pub size: Decimal,
}
avro_fields!(PriceLevel { price, size });

/// An order-book message as the venue sent it (topic `raw.depth`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawBookUpdate {
    pub venue: String,
    pub market: String,
    pub symbol: String,
    pub update_kind: BookUpdateKind,
    pub first_update_id: Option<i64>,
    pub last_update_id: i64,
    pub prev_update_id: Option<i64>,
    pub checksum: Option<i64>,
    pub bids: Vec<PriceLevel>,
    pub asks: Vec<PriceLevel>,
    pub event_time_us: UnixMicros,
    pub receive_time_us: UnixMicros,
}
avro_fields!(RawBookUpdate { venue, market, symbol, update_kind, first_update_id, last_update_id, prev_update_id, checksum, bids [array], asks [array], event_time_us, receive_time_us });
avro_record!(RawBookUpdate, "RawBookUpdate", "raw_book_update.avsc");

/// A normalized order-book message (topic `depth`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookUpdate {
    pub venue: String,
    pub instrument: String,
    pub base: String,
    pub quote: String,
    pub kind: InstrumentKind,
    pub expiry_us: Option<UnixMicros>,
    pub venue_symbol: String,
    pub update_kind: BookUpdateKind,
    pub first_update_id: Option<i64>,
    pub last_update_id: i64,
    pub prev_update_id: Option<i64>,
    pub checksum: Option<i64>,
    pub bids: Vec<PriceLevel>,
    pub asks: Vec<PriceLevel>,
    pub event_time_us: UnixMicros,
    pub receive_time_us: UnixMicros,
    pub source_lag_ms: i64,
}
avro_fields!(BookUpdate { venue, instrument, base, quote, kind, expiry_us, venue_symbol, update_kind, first_update_id, last_update_id, prev_update_id, checksum, bids [array], asks [array], event_time_us, receive_time_us, source_lag_ms });
avro_record!(BookUpdate, "BookUpdate", "book_update.avsc");
