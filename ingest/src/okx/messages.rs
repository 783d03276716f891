//! OKX `books` pushes: `{"arg":{"channel":"books","instId":..},"action":"snapshot"|"update","data":[..]}`.

use serde::Deserialize;

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
