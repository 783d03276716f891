use crate::avro::avro_record;
use crate::codec::avro_fields;
use crate::decimal::Decimal;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

/// An order book at the end of an event-time window (topics `book.<interval>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookTop {
    pub venue: String,
    pub instrument: String,
    pub interval: String,
    pub window_start_us: UnixMicros,
    pub window_end_us: UnixMicros,
    pub last_update_id: i64,
    pub updates: i64,
    pub bid_price: Option<Decimal>,
    pub bid_size: Option<Decimal>,
    pub ask_price: Option<Decimal>,
    pub ask_size: Option<Decimal>,
    pub depth_levels: i32,
    pub bid_depth: Decimal,
    pub ask_depth: Decimal,
    pub imbalance: Option<f64>,
    pub version: i64,
    pub emitted_at_us: UnixMicros,
}
avro_fields!(BookTop {
    venue,
    instrument,
    interval,
    window_start_us,
    window_end_us,
    last_update_id,
    updates,
    bid_price,
    bid_size,
    ask_price,
    ask_size,
    depth_levels,
    bid_depth,
    ask_depth,
    imbalance,
    version,
    emitted_at_us
});
avro_record!(BookTop, "BookTop", "book_top.avsc");
