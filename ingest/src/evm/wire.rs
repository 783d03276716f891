//! What the node says, as JSON-RPC writes it (hex quantities, `0x` data), and the two shapes
//! the ingestor keeps of it: a block [`Header`] and an [`EvmLog`].

use serde::{Deserialize, Serialize};
use tickwatch_model::hex::hex_bytes;

/// A block's place in its chain: enough to follow the chain by hash and parent hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub number: u64,
    pub hash: String,
    pub parent_hash: String,
    /// Unix seconds.
    pub timestamp: i64,
}

/// One log of `eth_getLogs`, lowercase hex throughout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmLog {
    pub address: String,
    pub topics: Vec<String>,
    pub data: Vec<u8>,
    pub block_number: u64,
    pub block_hash: String,
    pub tx_hash: String,
    pub log_index: u64,
    pub removed: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeaderJson {
    number: Option<String>,
    hash: Option<String>,
    parent_hash: String,
    timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogJson {
    address: String,
    topics: Vec<String>,
    data: String,
    block_number: Option<String>,
    block_hash: Option<String>,
    transaction_hash: Option<String>,
    log_index: Option<String>,
    #[serde(default)]
    removed: bool,
}

/// A hex quantity (`0x1b4`).
pub fn quantity(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix("0x").ok_or_else(|| format!("quantity `{text}` has no 0x prefix"))?;
    u64::from_str_radix(digits, 16).map_err(|e| format!("quantity `{text}`: {e}"))
}

/// A hash or address: `0x` + hex, lowercased.
fn hex_id(text: &str, what: &str) -> Result<String, String> {
    hex_bytes(text).map_err(|e| format!("{what} `{text}`: {e}"))?;
    Ok(text.to_ascii_lowercase())
}

impl Header {
    /// A block object of `eth_getBlockBy*` (pending blocks, without number or hash, are refused).
    pub fn from_json(v: serde_json::Value) -> Result<Header, String> {
        let h: HeaderJson = serde_json::from_value(v).map_err(|e| format!("block: {e}"))?;
        let number = h.number.ok_or("block without a number (pending)")?;
        let hash = h.hash.ok_or("block without a hash (pending)")?;
        Ok(Header {
            number: quantity(&number)?,
            hash: hex_id(&hash, "block hash")?,
            parent_hash: hex_id(&h.parent_hash, "parent hash")?,
            timestamp: quantity(&h.timestamp)? as i64,
        })
    }
}

impl EvmLog {
    /// A log object of `eth_getLogs` (pending logs, without block or index, are refused).
    pub fn from_json(v: serde_json::Value) -> Result<EvmLog, String> {
        let l: LogJson = serde_json::from_value(v).map_err(|e| format!("log: {e}"))?;
        let need = |f: Option<String>, what: &str| f.ok_or_else(|| format!("log without {what} (pending)"));
        Ok(EvmLog {
            address: hex_id(&l.address, "address")?,
            topics: l.topics.iter().map(|t| hex_id(t, "topic")).collect::<Result<_, _>>()?,
            data: hex_bytes(&l.data).map_err(|e| format!("data: {e}"))?,
            block_number: quantity(&need(l.block_number, "blockNumber")?)?,
            block_hash: hex_id(&need(l.block_hash, "blockHash")?, "block hash")?,
            tx_hash: hex_id(&need(l.transaction_hash, "transactionHash")?, "transaction hash")?,
            log_index: quantity(&need(l.log_index, "logIndex")?)?,
            removed: l.removed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_real_log_object_is_read_in_lowercase_with_its_quantities() {
        let log = EvmLog::from_json(json!({
            "address": "0xA43fe16908251ee70ef74718545e4fe6c5ccec9f",
            "topics": ["0x1C411E9A96E071241C2F21F7726B17AE89E3CAB4C78BE50E062B03A9FFFBBAD1"],
            "data": "0x00ff", "blockNumber": "0x104ae90", "blockHash": "0x49e3", "transactionHash": "0x6d70",
            "transactionIndex": "0x4", "logIndex": "0x2f", "removed": false
        }))
        .unwrap();
        assert_eq!(log.address, "0xa43fe16908251ee70ef74718545e4fe6c5ccec9f");
        assert!(log.topics[0].starts_with("0x1c411e9a"));
        assert_eq!((log.block_number, log.log_index, log.data.clone()), (0x104_ae90, 47, vec![0, 255]));
        let pending = json!({"address": "0x01", "topics": [], "data": "0x", "blockNumber": null,
            "blockHash": null, "transactionHash": null, "logIndex": null});
        assert!(EvmLog::from_json(pending).unwrap_err().contains("pending"));
    }

    #[test]
    fn headers_need_a_number_and_hash() {
        let h = Header::from_json(json!({"number": "0x10", "hash": "0xAB", "parentHash": "0xaa", "timestamp": "0x5"}));
        assert_eq!(h.unwrap(), Header { number: 16, hash: "0xab".into(), parent_hash: "0xaa".into(), timestamp: 5 });
        assert!(
            Header::from_json(json!({"number": null, "hash": null, "parentHash": "0x", "timestamp": "0x1"})).is_err()
        );
        assert!(quantity("12").is_err() && quantity("0xzz").is_err());
    }
}
