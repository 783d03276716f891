//! What the user writes for the Parquet writer (the `parquet:` section of `config/sinks.yaml`).

use serde::Deserialize;

/// The cold datasets, each a folder of the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataset {
    Trades,
    Klines,
    Reference,
    DexSwaps,
}

impl Dataset {
    /// The dataset for a topic name (without any prefix).
    pub fn for_topic(topic: &str) -> Option<Dataset> {
        Some(match topic {
            "trades" => Dataset::Trades,
            "reference" => Dataset::Reference,
            "dex.swaps" => Dataset::DexSwaps,
            t if t.starts_with("kline.") => Dataset::Klines,
            _ => return None,
        })
    }

    /// The folder name (the hot table's name, so that the two read alike).
    pub fn folder(self) -> &'static str {
        match self {
            Dataset::Trades => "trades",
            Dataset::Klines => "klines",
            Dataset::Reference => "reference_prices",
            Dataset::DexSwaps => "dex_swaps",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic `{0}` has no Parquet dataset: write trades, reference, kline.<interval> or dex.swaps")]
pub struct UnknownTopic(pub String);

/// S3's smallest multipart part (all but the last).
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// The Parquet writer's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSinkConfig {
    /// Topics to write, each to its dataset (trades, reference_prices, klines, dex_swaps).
    #[serde(default = "default_topics")]
    pub topics: Vec<String>,
    /// Key prefix inside the bucket (`""`: the datasets at the bucket's root).
    #[serde(default)]
    pub key_prefix: String,
    /// A file holds one hour of event time; it is closed once its partition's newest event
    /// time is this far past the hour's end (ms; later records of that hour go to a new file).
    #[serde(default = "default_close_after")]
    pub close_after_ms: i64,
    /// ... or when it holds this many rows (the size roll).
    #[serde(default = "default_max_rows")]
    pub max_file_rows: usize,
    /// ... or when its partition is read to its end and quiet for this long (ms).
    #[serde(default = "default_idle")]
    pub idle_close_ms: u64,
    /// Most rows held in open files, all together; past it the largest file is closed early.
    #[serde(default = "default_max_open_rows")]
    pub max_open_rows: usize,
    /// Files larger than this go up as a multipart upload in parts of this size (bytes, at
    /// least 5 MiB, S3's smallest part).
    #[serde(default = "default_part_bytes")]
    pub multipart_part_bytes: usize,
    /// Longest wait between two attempts while S3 is down (ms; doubles from 250 ms).
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
    /// zstd level of the Parquet pages (1–22).
    #[serde(default = "default_zstd_level")]
    pub zstd_level: i32,
}

fn default_topics() -> Vec<String> {
    ["trades", "reference", "kline.1m", "dex.swaps"].map(String::from).to_vec()
}
fn default_close_after() -> i64 {
    300_000
}
fn default_max_rows() -> usize {
    1_000_000
}
fn default_idle() -> u64 {
    60_000
}
fn default_max_open_rows() -> usize {
    4_000_000
}
fn default_part_bytes() -> usize {
    16 * 1024 * 1024
}
fn default_retry_max_ms() -> u64 {
    30_000
}
fn default_zstd_level() -> i32 {
    3
}

impl Default for ParquetSinkConfig {
    fn default() -> Self {
        ParquetSinkConfig {
            topics: default_topics(),
            key_prefix: String::new(),
            close_after_ms: default_close_after(),
            max_file_rows: default_max_rows(),
            idle_close_ms: default_idle(),
            max_open_rows: default_max_open_rows(),
            multipart_part_bytes: default_part_bytes(),
            retry_max_ms: default_retry_max_ms(),
            zstd_level: default_zstd_level(),
        }
    }
}

impl ParquetSinkConfig {
    /// Each configured topic with its dataset; the first topic without one is an error.
    pub fn routes(&self) -> Result<Vec<(String, Dataset)>, UnknownTopic> {
        self.topics
            .iter()
            .map(|t| Dataset::for_topic(t).map(|d| (t.clone(), d)).ok_or_else(|| UnknownTopic(t.clone())))
            .collect()
    }

    /// The first setting out of range, as (field, what is wrong).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Err(e) = self.routes() {
            return Err(("topics", e.to_string()));
        }
        if self.multipart_part_bytes < MIN_PART_BYTES {
            return Err((
                "multipart_part_bytes",
                format!("must be at least {MIN_PART_BYTES} (5 MiB, S3's smallest part)"),
            ));
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err(("zstd_level", "must be 1 to 22".into()));
        }
        if self.max_file_rows == 0 || self.max_open_rows < self.max_file_rows {
            return Err(("max_open_rows", "must be at least max_file_rows, and both at least 1".into()));
        }
        Ok(())
    }
}
