//! A fake EVM JSON-RPC node. The real Ethereum node cannot be reached from here, so this
//! stands in for it: JSON-RPC 2.0 over HTTP POST (`eth_chainId`, `eth_blockNumber`,
//! `eth_getBlockByNumber`, `eth_getBlockByHash`, `eth_getLogs`, `eth_call`), serving either
//! a seeded synthetic chain of Uniswap/PancakeSwap swaps or the real mainnet logs of the
//! fixtures, with reorgs, provider errors and latency on demand.

mod chain;
mod faults;
mod filter;
mod fixture;
mod hashes;
mod logs;
mod methods;
mod mining;
mod pools;
mod rpc;

pub use chain::Chain;
pub use logs::{is_swap, PANCAKE_V3_SWAP, V2_SWAP, V2_SYNC, V3_SWAP};

use crate::FakeError;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    UniswapV2,
    UniswapV3,
    PancakeswapV2,
    PancakeswapV3,
}

#[derive(Clone, Debug)]
pub struct FakePool {
    /// 0x + 40 hex (stored lowercase).
    pub address: String,
    pub kind: PoolKind,
    /// Token contract addresses, 0x + 40 hex; token0 < token1 as the factories order them.
    pub token0: String,
    pub token1: String,
    pub decimals0: u8,
    pub decimals1: u8,
    /// Starting price, whole token1 per whole token0 (only to make plausible numbers).
    pub price: f64,
}

#[derive(Clone, Debug)]
pub struct ChainSpec {
    pub chain_id: u64,
    pub seed: u64,
    /// Number of the first block (its parent hash is a fixed fake hash).
    pub start_block: u64,
    /// Timestamp of the first block (unix seconds).
    pub start_time_s: i64,
    /// Seconds between blocks.
    pub block_time_s: i64,
    pub pools: Vec<FakePool>,
    /// Each block holds 0..=this swaps, spread over the pools (seeded).
    pub max_swaps_per_block: u32,
}

/// Faults the node shows on purpose.
#[derive(Clone, Debug, Default)]
pub struct NodeFaults {
    /// `eth_getLogs` over more blocks → JSON-RPC error -32005 naming the limit.
    pub max_block_range: Option<u64>,
    /// HTTP requests (a batch is one) past this many in a second → HTTP 429, error -32005.
    pub requests_per_second: Option<u32>,
    /// Requests touching blocks below this → error 4444 "Pruned history unavailable".
    pub pruned_below: Option<u64>,
    /// Added before every response.
    pub latency_ms: u64,
    /// Every Nth HTTP request gets HTTP 503 with a plain-text body (a flaky endpoint).
    pub fail_every: Option<u32>,
    /// A batch's calls past the first N are each answered with error 429 (providers cap the
    /// calls of one batch; the calls within the cap are answered as usual).
    pub batch_calls: Option<usize>,
}

/// A Swap log of the canonical chain, as `eth_getLogs` serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalSwap {
    pub block_number: u64,
    pub block_hash: String,
    pub tx_hash: String,
    pub log_index: u64,
    pub address: String,
    pub topics: Vec<String>,
    pub data: Vec<u8>,
}

/// One reorg of a [`drive`] script: when the head reaches `at_head`, `reorg(depth, new_blocks)`.
#[derive(Clone, Debug)]
pub struct ReorgStep {
    pub at_head: u64,
    pub depth: u64,
    pub new_blocks: u64,
}

/// A hex quantity (`0x1a`, any case) → its number.
pub(crate) fn quantity(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))?;
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// Play a script: every `block_interval_ms` mine one block; each step's reorg happens once,
/// as soon as the head is at or past its `at_head`. Returns once the head reaches
/// `stop_at_head` (never without one).
pub async fn drive(chain: Chain, block_interval_ms: u64, script: Vec<ReorgStep>, stop_at_head: Option<u64>) {
    let mut pending = script;
    loop {
        if stop_at_head.is_some_and(|stop| chain.head() >= stop) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(block_interval_ms)).await;
        chain.mine(1);
        while let Some(i) = pending.iter().position(|step| chain.head() >= step.at_head) {
            let step = pending.remove(i);
            chain.reorg(step.depth, step.new_blocks);
        }
    }
}

/// Serve JSON-RPC for `chain` on `addr` (port 0 picks one) until the process ends; the URL
/// is `http://<returned addr>/`.
pub async fn serve(addr: &str, chain: Chain, faults: NodeFaults) -> Result<SocketAddr, FakeError> {
    let listener = crate::listen(addr).await?;
    let bound = listener.local_addr().map_err(|error| FakeError::Listen { addr: addr.into(), error })?;
    tokio::spawn(rpc::serve(listener, chain, faults));
    Ok(bound)
}
