//! The `eth_*` methods the node answers (besides `eth_getLogs`, in `filter.rs`), with the
//! error codes and messages of geth and the execution-apis conformance tests.

use super::chain::State;
use super::{filter, quantity, NodeFaults};
use serde_json::{json, Value};
use tickwatch_model::hex::hex_bytes;

/// keccak256 of an empty RLP list: the uncles hash of every post-Merge block.
const EMPTY_UNCLES_HASH: &str = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";
/// Finality as clients report it after the Merge, roughly: safe one epoch back, final two.
const SAFE_DEPTH: u64 = 32;
const FINALIZED_DEPTH: u64 = 64;
/// Function selectors `eth_call` answers.
const TOKEN0: [u8; 4] = [0x0d, 0xfe, 0x16, 0x81];
const TOKEN1: [u8; 4] = [0xd2, 0x12, 0x20, 0xa7];
const DECIMALS: [u8; 4] = [0x31, 0x3c, 0xe5, 0x67];
/// Salts of the header fields that are only filler.
const SALT_STATE_ROOT: u64 = 1;
const SALT_RECEIPTS_ROOT: u64 = 2;
const SALT_TXS_ROOT: u64 = 3;
const SALT_MIX: u64 = 4;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError { code, message: message.into(), data: None }
    }

    pub fn invalid_params(detail: impl std::fmt::Display) -> RpcError {
        RpcError::new(-32602, format!("invalid argument: {detail}"))
    }

    /// EIP-4444 nodes answer requests for history they dropped with 4444.
    pub fn pruned() -> RpcError {
        RpcError::new(4444, "Pruned history unavailable")
    }

    pub fn to_json(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// A hex quantity: 0x + digits without leading zeros.
pub(crate) fn hex(n: u64) -> String {
    format!("{n:#x}")
}

/// The number a block parameter names (a tag or a hex quantity); may lie past the head.
pub(crate) fn block_number(state: &State, param: &Value) -> Result<u64, RpcError> {
    let text = param.as_str().ok_or_else(|| RpcError::invalid_params("block number is not a string"))?;
    let back = |depth: u64| state.head.saturating_sub(depth).max(state.first());
    match text {
        "latest" | "pending" => Ok(state.head),
        "safe" => Ok(back(SAFE_DEPTH)),
        "finalized" => Ok(back(FINALIZED_DEPTH)),
        "earliest" => Ok(state.first()),
        hex => quantity(hex).ok_or_else(|| RpcError::invalid_params(format!("bad block number `{hex}`"))),
    }
}

/// Refuse blocks below the node's pruning point.
pub(crate) fn check_pruned(faults: &NodeFaults, number: u64) -> Result<(), RpcError> {
    match faults.pruned_below {
        Some(pruned) if number < pruned => Err(RpcError::pruned()),
        _ => Ok(()),
    }
}

fn block_json(state: &State, number: u64, full: bool) -> Value {
    let hash = state.hash_of(number);
    let txs = state.tx_first_logs(number);
    let transactions: Vec<Value> = txs
        .iter()
        .map(|log| match full {
            false => json!(log.tx_hash),
            true => json!({"hash": log.tx_hash, "blockHash": hash, "blockNumber": hex(number),
                "transactionIndex": hex(log.tx_index), "to": log.address, "input": "0x", "value": "0x0", "type": "0x2"}),
        })
        .collect();
    let count = txs.len() as u64;
    json!({
        "number": hex(number),
        "hash": hash,
        "parentHash": state.parent_hash(number),
        "timestamp": hex(state.timestamp(number).max(0) as u64),
        "nonce": "0x0000000000000000",
        "sha3Uncles": EMPTY_UNCLES_HASH,
        "logsBloom": format!("0x{}", "0".repeat(512)),
        "transactionsRoot": state.filler_hash(number, SALT_TXS_ROOT),
        "stateRoot": state.filler_hash(number, SALT_STATE_ROOT),
        "receiptsRoot": state.filler_hash(number, SALT_RECEIPTS_ROOT),
        "mixHash": state.filler_hash(number, SALT_MIX),
        "miner": "0x0000000000000000000000000000000000000000",
        "difficulty": "0x0",
        "extraData": "0x",
        "size": hex(0x220 + 0x100 * count),
        "gasLimit": hex(30_000_000),
        "gasUsed": hex(150_000 * count),
        "baseFeePerGas": hex(10_000_000_000),
        "uncles": [],
        "transactions": transactions,
    })
}

fn param(params: &Value, i: usize) -> Option<&Value> {
    params.get(i).filter(|p| !p.is_null())
}

fn get_block_by_number(state: &State, faults: &NodeFaults, params: &Value) -> Result<Value, RpcError> {
    let number = block_number(state, param(params, 0).unwrap_or(&json!("latest")))?;
    check_pruned(faults, number)?;
    let full = param(params, 1).and_then(Value::as_bool).unwrap_or(false);
    Ok(if state.exists(number) { block_json(state, number, full) } else { Value::Null })
}

fn get_block_by_hash(state: &State, faults: &NodeFaults, params: &Value) -> Result<Value, RpcError> {
    let hash = param(params, 0).and_then(Value::as_str).ok_or_else(|| RpcError::invalid_params("no block hash"))?;
    let Some(number) = state.number_of(hash) else { return Ok(Value::Null) };
    check_pruned(faults, number)?;
    let full = param(params, 1).and_then(Value::as_bool).unwrap_or(false);
    Ok(block_json(state, number, full))
}

/// `token0()`/`token1()` of a pool and `decimals()` of a token; anything else reverts.
fn call(state: &State, params: &Value) -> Result<Value, RpcError> {
    let tx = param(params, 0).ok_or_else(|| RpcError::invalid_params("no call object"))?;
    let to = tx.get("to").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let input = tx.get("input").or_else(|| tx.get("data")).and_then(Value::as_str).unwrap_or("0x");
    let input = hex_bytes(input).map_err(RpcError::invalid_params)?;
    let selector = input.get(..4).unwrap_or_default();
    let pools = || state.spec.pools.iter().chain(&state.known_pools);
    let pool = pools().find(|p| p.address == to);
    let word: Option<[u8; 32]> = match pool {
        Some(pool) if selector == TOKEN0 => Some(address_word(&pool.token0)),
        Some(pool) if selector == TOKEN1 => Some(address_word(&pool.token1)),
        None if selector == DECIMALS => pools()
            .find_map(|p| [(&p.token0, p.decimals0), (&p.token1, p.decimals1)].into_iter().find(|(t, _)| **t == to))
            .map(|(_, decimals)| super::logs::word_u128(decimals.into())),
        _ => None,
    };
    match word {
        Some(word) => Ok(json!(tickwatch_model::hex::to_hex(&word))),
        None => Err(RpcError { data: Some(json!("0x")), ..RpcError::new(3, "execution reverted") }),
    }
}

fn address_word(address: &str) -> [u8; 32] {
    let mut word = [0u8; 32];
    if let Ok(bytes) = hex_bytes(address) {
        let start = 32usize.saturating_sub(bytes.len());
        word[start..].copy_from_slice(&bytes[bytes.len().saturating_sub(32)..]);
    }
    word
}

/// Answer one call of `method` (the node counted it already).
pub(crate) fn answer(state: &State, faults: &NodeFaults, method: &str, params: &Value) -> Result<Value, RpcError> {
    if !params.is_array() && !params.is_null() {
        return Err(RpcError::invalid_params("params must be an array"));
    }
    match method {
        "eth_chainId" => Ok(json!(hex(state.spec.chain_id))),
        "net_version" => Ok(json!(state.spec.chain_id.to_string())),
        "eth_blockNumber" => Ok(json!(hex(state.head))),
        "eth_getBlockByNumber" => get_block_by_number(state, faults, params),
        "eth_getBlockByHash" => get_block_by_hash(state, faults, params),
        "eth_getLogs" => filter::get_logs(state, faults, params),
        "eth_call" => call(state, params),
        other => Err(RpcError::new(-32601, format!("the method {other} does not exist/is not available"))),
    }
}
