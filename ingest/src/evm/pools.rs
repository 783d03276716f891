//! The pools a chain's ingestor watches (the symbols file's `pools` of its chain id), the
//! `eth_getLogs` filter they make, and a check of their tokens against the chain itself.

use super::rpc::{LogFilter, RpcClient, RpcError};
use std::collections::BTreeMap;
use tickwatch_model::symbols::{PoolEntry, Symbols};
use tickwatch_model::{PANCAKE_V3_SWAP, V2_SWAP, V2_SYNC, V3_SWAP};

/// topic0 of the events the transform decodes (Uniswap/PancakeSwap V2 `Swap` and `Sync`,
/// Uniswap V3 `Swap`, PancakeSwap V3 `Swap`); the `Sync` prices the V2 swap after it.
pub const TOPIC0: [&str; 4] = [V2_SWAP, V2_SYNC, V3_SWAP, PANCAKE_V3_SWAP];

/// `token0()`, `token1()` and `decimals()` selectors.
const TOKEN0: &str = "0x0dfe1681";
const TOKEN1: &str = "0xd21220a7";
const DECIMALS: &str = "0x313ce567";

/// Lowercase pool address → protocol.
#[derive(Debug, Clone)]
pub struct WatchedPools {
    pub protocols: BTreeMap<String, String>,
    entries: Vec<PoolEntry>,
}

impl WatchedPools {
    pub fn of_chain(symbols: &Symbols, chain_id: i64) -> WatchedPools {
        let entries: Vec<PoolEntry> = symbols.pools.iter().filter(|p| p.chain_id == chain_id).cloned().collect();
        let protocols = entries.iter().map(|p| (p.address.to_ascii_lowercase(), p.protocol.clone())).collect();
        WatchedPools { protocols, entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn filter(&self) -> LogFilter {
        LogFilter {
            addresses: self.protocols.keys().cloned().collect(),
            topic0: TOPIC0.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// Ask the chain for each pool's tokens and their `decimals()`; a disagreement with the
    /// symbols file is a line naming the pool, the token and both values. A pool whose
    /// contract does not answer (`eth_call` unsupported, not a pair) is said and not judged.
    pub async fn check_decimals(&self, rpc: &RpcClient) -> Vec<String> {
        let mut wrong = Vec::new();
        for p in &self.entries {
            for (side, selector, token) in [("token0", TOKEN0, &p.token0), ("token1", TOKEN1, &p.token1)] {
                match on_chain_decimals(rpc, &p.address, selector).await {
                    Ok(d) if d != token.decimals => wrong.push(format!(
                        "pool {} {side} ({}): decimals() is {d} on chain, the symbols file says {}",
                        p.address, token.symbol, token.decimals
                    )),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(pool = %p.address, side, "cannot read the token's decimals(): {e}"),
                }
            }
        }
        wrong
    }
}

/// The last 20 bytes of a 32-byte word, as an address.
fn address_word(word: &[u8]) -> Option<String> {
    (word.len() == 32).then(|| tickwatch_model::hex::to_hex(&word[12..]))
}

/// A small unsigned word (decimals).
fn small_word(word: &[u8]) -> Option<u32> {
    (word.len() == 32 && word[..28].iter().all(|b| *b == 0)).then(|| u32::from_be_bytes(word[28..].try_into().unwrap()))
}

async fn on_chain_decimals(rpc: &RpcClient, pool: &str, selector: &str) -> Result<u32, String> {
    let token = rpc.eth_call(pool, selector).await.map_err(|e: RpcError| e.to_string())?;
    let token = address_word(&token).ok_or("the pool's token call did not answer one word")?;
    let decimals = rpc.eth_call(&token, DECIMALS).await.map_err(|e| e.to_string())?;
    small_word(&decimals).ok_or_else(|| format!("decimals() of {token} did not answer a small number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_as_addresses_and_small_numbers() {
        let mut w = vec![0u8; 32];
        w[12] = 0xab;
        w[31] = 18;
        assert_eq!(address_word(&w).unwrap(), format!("0xab{}12", "00".repeat(18)));
        assert_eq!(small_word(&w), None, "not small");
        w[12] = 0;
        assert_eq!(small_word(&w), Some(18));
        assert_eq!(small_word(&w[1..]), None);
    }
}
