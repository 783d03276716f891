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

/// `publicTrade.<symbol>`: `S` is the taker's side.
#[derive(Debug, Clone, Deserialize)]
pub struct PublicTrade {
    /// Trade time, ms.
    #[serde(rename = "T")]
    pub time: i64,
    #[serde(rename = "s")]
    pub symbol: String,
    #[serde(rename = "S")]
    pub side: String,
    #[serde(rename = "v")]
    pub size: String,
    #[serde(rename = "p")]
    pub price: String,
    #[serde(rename = "i")]
    pub id: String,
    #[serde(default)]
    pub seq: Option<i64>,
}

/// `tickers.<symbol>`: a snapshot, then deltas holding only the fields that changed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tickers {
    pub symbol: String,
    #[serde(default)]
    pub mark_price: Option<String>,
    #[serde(default)]
    pub index_price: Option<String>,
    #[serde(default)]
    pub funding_rate: Option<String>,
    #[serde(default)]
    pub next_funding_time: Option<String>,
}

/// `GET /v5/market/orderbook`.
#[derive(Debug, Clone, Deserialize)]
pub struct RestOrderbook {
    pub result: OrderbookData,
}

/// `GET /v5/market/instruments-info`.
#[derive(Debug, Clone, Deserialize)]
pub struct InstrumentsInfo {
    pub result: InstrumentList,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstrumentList {
    pub list: Vec<Listed>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Listed {
    pub symbol: String,
}
