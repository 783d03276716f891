//! OKX `books` pushes: `{"arg":{"channel":"books","instId":..},"action":"snapshot"|"update","data":[..]}`.

use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Deserialize)]
pub struct BooksPush {
    pub arg: BooksArg,
    /// `snapshot` or `update`.
    pub action: String,
    pub data: Vec<BooksData>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BooksArg {
    pub channel: String,
    #[serde(rename = "instId")]
    pub inst_id: String,
}

/// Levels are `[price, size, liquidated orders (deprecated, "0"), order count]`.
#[derive(Debug, Clone, Deserialize)]
pub struct BooksData {
    pub asks: Vec<Vec<String>>,
    pub bids: Vec<Vec<String>>,
    /// Event time, ms, as a string.
    pub ts: String,
    /// CRC32 of the top 25 levels as a signed 32-bit integer; 0 means not provided.
    #[serde(default)]
    pub checksum: Option<i64>,
    /// Sequence id of this push (absent in older recordings).
    #[serde(rename = "seqId", default)]
    pub seq_id: Option<i64>,
    /// The previous push's `seqId`; -1 on a snapshot.
    #[serde(rename = "prevSeqId", default)]
    pub prev_seq_id: Option<i64>,
}

/// Any push: `{"arg":{"channel":..,"instId":..},"data":[..]}` (and `action` on books).
#[derive(Debug, Clone, Deserialize)]
pub struct Push<T> {
    pub arg: BooksArg,
    #[serde(default)]
    pub action: Option<String>,
    pub data: Vec<T>,
}

/// `trades`: `side` is the taker's. Borrows its strings from the frame.
#[derive(Debug, Clone, Deserialize)]
pub struct Trade<'a> {
    #[serde(borrow, rename = "instId")]
    pub inst_id: Cow<'a, str>,
    #[serde(borrow, rename = "tradeId")]
    pub trade_id: Cow<'a, str>,
    #[serde(borrow)]
    pub px: Cow<'a, str>,
    #[serde(borrow)]
    pub sz: Cow<'a, str>,
    #[serde(borrow)]
    pub side: Cow<'a, str>,
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    #[serde(rename = "seqId", default)]
    pub seq_id: Option<i64>,
}

/// `mark-price`.
#[derive(Debug, Clone, Deserialize)]
pub struct MarkPrice {
    #[serde(rename = "instId")]
    pub inst_id: String,
    #[serde(rename = "markPx")]
    pub mark_px: String,
    pub ts: String,
}

/// `index-tickers`: `instId` is the index (`BTC-USDT`), not a tradable instrument.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexTicker {
    #[serde(rename = "instId")]
    pub inst_id: String,
    #[serde(rename = "idxPx")]
    pub idx_px: String,
    pub ts: String,
}

/// `funding-rate` (perpetual swaps).
#[derive(Debug, Clone, Deserialize)]
pub struct FundingRate {
    #[serde(rename = "instId")]
    pub inst_id: String,
    #[serde(rename = "fundingRate")]
    pub funding_rate: String,
    #[serde(rename = "nextFundingTime", default)]
    pub next_funding_time: Option<String>,
    #[serde(rename = "fundingTime", default)]
    pub funding_time: Option<String>,
    pub ts: String,
}

/// `GET /api/v5/market/books`.
#[derive(Debug, Clone, Deserialize)]
pub struct RestBooks {
    pub data: Vec<BooksData>,
}

/// `GET /api/v5/public/instruments`.
#[derive(Debug, Clone, Deserialize)]
pub struct Instruments {
    pub data: Vec<Instrument>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Instrument {
    #[serde(rename = "instId")]
    pub inst_id: String,
}

/// OKX's market of an instrument id: `…-SWAP` is a perpetual swap, `…-YYMMDD` a future.
pub fn market_of(inst_id: &str) -> &'static str {
    let last = inst_id.rsplit('-').next().unwrap_or_default();
    if last == "SWAP" {
        "swap"
    } else if last.len() == 6 && last.bytes().all(|b| b.is_ascii_digit()) {
        "futures"
    } else {
        "spot"
    }
}

/// The index a derivative follows (`BTC-USDT-SWAP` → `BTC-USDT`); None for spot.
pub fn underlying(inst_id: &str) -> Option<&str> {
    match market_of(inst_id) {
        "spot" => None,
        _ => inst_id.rsplit_once('-').map(|(u, _)| u),
    }
}
