//! EVM logs as JSON-RPC returns them (`eth_getLogs`, receipts) → `RawDexLog`, for tests
//! that replay the recorded logs of `../shared/fixtures/ethereum`.

use std::path::Path;
use tickwatch_model::hex::hex_bytes;
use tickwatch_model::{RawDexLog, SwapStatus};

/// Where a test says the log came from; JSON-RPC logs carry neither chain nor time.
pub struct LogSource<'a> {
    pub chain: &'a str,
    pub chain_id: i64,
    pub protocol: &'a str,
    pub block_time_us: i64,
    pub receive_time_us: i64,
}

fn text<'a>(log: &'a serde_json::Value, field: &str) -> &'a str {
    log[field].as_str().unwrap_or_else(|| panic!("log field `{field}` is missing or not a string: {log}"))
}

fn quantity(log: &serde_json::Value, field: &str) -> i64 {
    let hex = text(log, field);
    i64::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap_or_else(|e| panic!("`{field}` {hex}: {e}"))
}

/// One JSON-RPC log object as a pending raw record.
pub fn raw_dex_log(log: &serde_json::Value, source: &LogSource<'_>) -> RawDexLog {
    let topics = log["topics"].as_array().expect("topics").iter().map(|t| t.as_str().expect("topic").to_string());
    RawDexLog {
        chain: source.chain.into(),
        chain_id: source.chain_id,
        protocol: source.protocol.into(),
        address: text(log, "address").to_ascii_lowercase(),
        topics: topics.collect(),
        data: hex_bytes(text(log, "data")).expect("log data is 0x hex"),
        block_number: quantity(log, "blockNumber"),
        block_hash: text(log, "blockHash").into(),
        // Logs do not carry it; the ingestor takes it from the block header.
        parent_hash: String::new(),
        tx_hash: text(log, "transactionHash").into(),
        log_index: quantity(log, "logIndex"),
        removed: log["removed"].as_bool().unwrap_or(false),
        block_time_us: source.block_time_us,
        receive_time_us: source.receive_time_us,
        status: SwapStatus::Pending,
        version: 0,
    }
}

/// The log saved in a fixture file (one JSON object).
pub fn fixture_log(path: &Path, source: &LogSource<'_>) -> RawDexLog {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    raw_dex_log(&json, source)
}
