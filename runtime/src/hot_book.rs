//! The order books the API serves: the book worker (`tickwatch windows book`) writes each
//! book's top levels to Redis as they stand after its updates, and the API reads them back.
//! One key per book, expiring when the worker stops refreshing it.

use serde::{Deserialize, Serialize};

/// Version of the stored JSON.
pub const SCHEMA: u32 = 1;

/// The default key prefix (`hot.redis_prefix` of config/api.yaml).
pub const DEFAULT_PREFIX: &str = "tickwatch:hot:";

/// Levels kept each side.
pub const LEVELS: usize = 100;

/// A book expires this long after its last refresh.
pub const TTL_MS: i64 = 60_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotBook {
    /// Best first: `[price, size]` as exact decimal strings.
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
    pub last_update_id: i64,
    /// Event time of the last update applied (ms).
    pub at_ms: i64,
    /// When the worker wrote it (ms).
    pub written_ms: i64,
}

pub fn key(venue: &str, instrument: &str) -> String {
    format!("book:{venue}:{instrument}")
}
