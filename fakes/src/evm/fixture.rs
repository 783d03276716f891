//! A chain around real mainnet logs: every `log_*.json` under `uniswap_v2/` and
//! `uniswap_v3/` of the fixture folder, read at run time, sits in its real block (real number
//! and hash, real tx hash and indexes); every other block is a synthetic empty header.

use super::chain::{Body, Chain, State};
use super::logs::Log;
use super::{quantity, ChainSpec};
use crate::FakeError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tickwatch_model::hex::hex_bytes;

/// Timestamps are synthetic but plausible: 12 s slots counted from the Merge
/// (block 15,537,394 at 2022-09-15 06:42:59 UTC).
const MERGE_BLOCK: i64 = 15_537_394;
const MERGE_TIME_S: i64 = 1_663_224_179;
const SLOT_S: i64 = 12;
/// The folders of the fixture tree that hold pool logs.
const LOG_FOLDERS: [&str; 2] = ["uniswap_v2", "uniswap_v3"];

/// The `log_*.json` files of `dir`, sorted by name.
fn log_files(dir: &Path) -> Result<Vec<PathBuf>, FakeError> {
    let entries = std::fs::read_dir(dir).map_err(|e| FakeError::recording(dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("log_") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// Every log object of a file: one object (possibly pretty-printed), an array of them, or
/// several objects one after the other (JSON lines).
fn log_objects(path: &Path) -> Result<Vec<Value>, FakeError> {
    let text = crate::read(path)?;
    let mut objects = Vec::new();
    for value in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        match value.map_err(|e| FakeError::recording(path, e))? {
            Value::Array(items) => objects.extend(items),
            one => objects.push(one),
        }
    }
    Ok(objects)
}

/// (block number, block hash, log) of a JSON-RPC log object.
fn parse_log(value: &Value) -> Result<(u64, String, Log), String> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).ok_or(format!("log has no `{key}` string"));
    let number = |key: &str| text(key).and_then(|t| quantity(t).ok_or(format!("`{key}` is not a hex quantity")));
    let topics = value
        .get("topics")
        .and_then(Value::as_array)
        .ok_or("log has no `topics` array")?
        .iter()
        .map(|t| t.as_str().map(str::to_ascii_lowercase).ok_or("a topic is not a string"))
        .collect::<Result<Vec<_>, _>>()?;
    let log = Log {
        address: text("address")?.to_ascii_lowercase(),
        topics,
        data: hex_bytes(text("data")?).map_err(|e| format!("`data`: {e}"))?,
        tx_hash: text("transactionHash")?.to_ascii_lowercase(),
        tx_index: number("transactionIndex")?,
        log_index: number("logIndex")?,
    };
    Ok((number("blockNumber")?, text("blockHash")?.to_ascii_lowercase(), log))
}

impl Chain {
    /// The real logs of `folder` (`.../fixtures/ethereum`) in their real blocks, within
    /// synthetic empty headers from the lowest fixture block - 2 to the highest +
    /// `extra_blocks`; 12-second synthetic timestamps, no synthetic swaps (mined blocks
    /// stay empty). The seed of the synthetic hashes is `chain_id`.
    pub fn from_fixtures(folder: &Path, chain_id: u64, extra_blocks: u64) -> Result<Chain, FakeError> {
        let mut blocks: BTreeMap<u64, (String, Vec<Log>)> = BTreeMap::new();
        for sub in LOG_FOLDERS {
            for path in log_files(&folder.join(sub))? {
                for object in log_objects(&path)? {
                    let (number, hash, log) = parse_log(&object).map_err(|e| FakeError::recording(&path, e))?;
                    let (known_hash, logs) = blocks.entry(number).or_insert_with(|| (hash.clone(), Vec::new()));
                    if *known_hash != hash {
                        let clash = format!("block {number} has hash {hash} here and {known_hash} in another file");
                        return Err(FakeError::recording(&path, clash));
                    }
                    if !logs.iter().any(|l| l.tx_hash == log.tx_hash && l.log_index == log.log_index) {
                        logs.push(log);
                    }
                }
            }
        }
        let (Some(&lowest), Some(&highest)) = (blocks.keys().next(), blocks.keys().next_back()) else {
            return Err(FakeError::recording(folder, "no log_*.json with a log under uniswap_v2/ or uniswap_v3/"));
        };
        let first = lowest.saturating_sub(2);
        let spec = ChainSpec {
            chain_id,
            seed: chain_id,
            start_block: first,
            start_time_s: MERGE_TIME_S + (first as i64 - MERGE_BLOCK) * SLOT_S,
            block_time_s: SLOT_S,
            pools: Vec::new(),
            max_swaps_per_block: 0,
        };
        let mut state = State::new(spec);
        state.mine(highest + extra_blocks - first);
        for (number, (hash, mut logs)) in blocks {
            logs.sort_by_key(|l| l.log_index);
            state.insert_real(number, Body::real(hash, logs));
        }
        Ok(Chain::of(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_object_parses_with_its_block() {
        let value = serde_json::json!({"address": "0xA43FE16908251EE70EF74718545E4FE6C5CCEC9F",
            "topics": ["0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"], "data": "0x0001",
            "blockNumber": "0x104ae90", "transactionHash": "0xAB", "transactionIndex": "0x4",
            "blockHash": "0x49e3", "logIndex": "0x2f", "removed": false});
        let (number, hash, log) = parse_log(&value).unwrap();
        assert_eq!((number, hash.as_str(), log.log_index, log.tx_index), (17_084_048, "0x49e3", 0x2f, 4));
        assert_eq!(
            (log.address.as_str(), log.data, log.tx_hash.as_str()),
            ("0xa43fe16908251ee70ef74718545e4fe6c5ccec9f", vec![0, 1], "0xab")
        );
        assert!(parse_log(&serde_json::json!({"address": "0x00"})).is_err());
    }
}
