//! `{"topic":"orderbook.500.XRPUSDT","type":"snapshot"|"delta","ts":..,"data":{"s","b","a","u","seq"},"cts":..}`.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct OrderbookPush {
    pub topic: String,
    /// `snapshot` or `delta`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the venue generated the data, ms.
    pub ts: i64,
    pub data: OrderbookData,
    /// Matching-engine time, ms.
    #[serde(default)]
    pub cts: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderbookData {
    #[serde(rename = "s")]
    pub symbol: String,
    #[serde(rename = "b")]
    pub bids: Vec<(String, String)>,
    #[serde(rename = "a")]
    pub asks: Vec<(String, String)>,
    /// Update id: one more with each push; 1 on the snapshot after a service restart.
    #[serde(rename = "u")]
    pub update_id: i64,
    /// Cross sequence, comparable across depths.
    #[serde(default)]
    pub seq: Option<i64>,
}
