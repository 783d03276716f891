//! Binance's depth messages as they arrive (raw or inside a combined-stream envelope) and the
//! REST depth snapshot.

use serde::Deserialize;

/// `<symbol>@depth@100ms`: a diff of absolute quantities covering update ids `U..=u`.
#[derive(Debug, Clone, Deserialize)]
pub struct DepthUpdate {
    /// Event time, ms.
    #[serde(rename = "E")]
    pub event_time: i64,
    /// Transaction time, ms (USD-M only).
    #[serde(rename = "T", default)]
    pub transaction_time: Option<i64>,
    #[serde(rename = "s")]
    pub symbol: String,
    #[serde(rename = "U")]
    pub first_id: i64,
    #[serde(rename = "u")]
    pub last_id: i64,
    /// The previous event's `u` (USD-M only).
    #[serde(rename = "pu", default)]
    pub prev_last_id: Option<i64>,
    #[serde(rename = "b")]
    pub bids: Vec<(String, String)>,
    #[serde(rename = "a")]
    pub asks: Vec<(String, String)>,
}

impl DepthUpdate {
    /// Back from the published raw record (the book needs only ids and levels).
    pub fn from_raw(raw: &tickwatch_model::RawBookUpdate) -> DepthUpdate {
        let side = |levels: &[tickwatch_model::PriceLevel]| -> Vec<(String, String)> {
            levels.iter().map(|l| (l.price.to_string(), l.size.to_string())).collect()
        };
        DepthUpdate {
            event_time: raw.event_time_us / 1000,
            transaction_time: None,
            symbol: raw.symbol.clone(),
            first_id: raw.first_update_id.unwrap_or(raw.last_update_id),
            last_id: raw.last_update_id,
            prev_last_id: raw.prev_update_id,
            bids: side(&raw.bids),
            asks: side(&raw.asks),
        }
    }
}

/// `GET /api/v3/depth` (spot) or `/fapi/v1/depth` (USD-M).
#[derive(Debug, Clone, Deserialize)]
pub struct DepthSnapshot {
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: i64,
    pub bids: Vec<(String, String)>,
    pub asks: Vec<(String, String)>,
}

/// `<symbol>@bookTicker`: best bid and ask as of update id `u`.
#[derive(Debug, Clone, Deserialize)]
pub struct BookTicker {
    #[serde(rename = "u")]
    pub update_id: i64,
    #[serde(rename = "s")]
    pub symbol: String,
    #[serde(rename = "b")]
    pub bid_price: String,
    #[serde(rename = "B")]
    pub bid_size: String,
    #[serde(rename = "a")]
    pub ask_price: String,
    #[serde(rename = "A")]
    pub ask_size: String,
}

/// A message of a combined stream (`/stream?streams=...`) or of a raw one.
pub fn unwrap_stream(frame: &serde_json::Value) -> &serde_json::Value {
    match frame.get("stream") {
        Some(_) => frame.get("data").unwrap_or(frame),
        None => frame,
    }
}
