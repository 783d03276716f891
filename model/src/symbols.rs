//! `config/symbols.yaml`: venue symbols ↔ canonical instrument ids, contract sizes and
//! precisions, and the DEX pools with their tokens. Plain types and checks, no file access:
//! the runtime loads the file, the transforms bake it in at build time.

use crate::decimal::Decimal;
use crate::instrument::InstrumentId;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Venues tickwatch has connectors for.
pub const KNOWN_VENUES: &[&str] = &["binance", "binance-usdm", "okx", "bybit"];

/// DEX protocols whose swap logs tickwatch decodes.
pub const KNOWN_PROTOCOLS: &[&str] = &["uniswap_v2", "uniswap_v3", "pancakeswap_v2", "pancakeswap_v3"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Symbols {
    /// Asset renames applied before anything else (`XBT: BTC`).
    #[serde(default)]
    pub asset_aliases: BTreeMap<String, String>,
    #[serde(default)]
    pub aliases: Vec<SymbolAlias>,
    /// DEX pools, by (chain id, address).
    #[serde(default)]
    pub pools: Vec<PoolEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolAlias {
    pub venue: String,
    /// The venue's own symbol.
    pub symbol: String,
    /// Canonical id.
    pub instrument: String,
    /// Base units per contract (1 for spot and linear contracts quoted in base units).
    #[serde(default = "one")]
    pub contract_size: Decimal,
    /// Decimal places of the price tick.
    pub price_precision: u32,
    /// Decimal places of the size step.
    pub size_precision: u32,
}

/// One DEX pool: its tokens in the pool's own order (token0 < token1 by address) and which
/// of them is the base of the canonical pair.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolEntry {
    /// The chain's name (`ethereum`, `bsc`, ...).
    pub chain: String,
    pub chain_id: i64,
    /// 0x-prefixed 20-byte hex, any case.
    pub address: String,
    /// One of [`KNOWN_PROTOCOLS`].
    pub protocol: String,
    pub token0: PoolToken,
    pub token1: PoolToken,
    /// The token the price is quoted for: the pair is `BASE-QUOTE`.
    pub base: PoolSide,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolToken {
    /// Asset name in the canonical pair (asset aliases apply).
    pub symbol: String,
    /// The token's `decimals()`.
    pub decimals: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolSide {
    Token0,
    Token1,
}

/// `0x` + 40 hex digits.
pub fn is_evm_address(text: &str) -> bool {
    text.len() == 42 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn one() -> Decimal {
    Decimal::from_int(1)
}

/// A problem in the file: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolsError {
    pub field: String,
    pub message: String,
}

impl Symbols {
    pub fn validate(&self) -> Result<(), SymbolsError> {
        for (i, a) in self.aliases.iter().enumerate() {
            let err = |f: &str, message: String| SymbolsError { field: format!("aliases[{i}].{f}"), message };
            if !KNOWN_VENUES.contains(&a.venue.as_str()) {
                return Err(err("venue", format!("unknown venue `{}`; known: {}", a.venue, KNOWN_VENUES.join(", "))));
            }
            a.instrument.parse::<InstrumentId>().map_err(|e| err("instrument", e.to_string()))?;
            if !a.contract_size.is_positive() {
                return Err(err("contract_size", "must be positive".into()));
            }
            if a.price_precision > 18 || a.size_precision > 18 {
                return Err(err("price_precision", "precisions are at most 18 decimal places".into()));
            }
            if self.aliases[..i].iter().any(|b| b.venue == a.venue && b.symbol == a.symbol) {
                return Err(err("symbol", format!("{} {} is listed twice", a.venue, a.symbol)));
            }
        }
        for (i, p) in self.pools.iter().enumerate() {
            let err = |f: &str, message: String| SymbolsError { field: format!("pools[{i}].{f}"), message };
            if !KNOWN_PROTOCOLS.contains(&p.protocol.as_str()) {
                let known = KNOWN_PROTOCOLS.join(", ");
                return Err(err("protocol", format!("unknown protocol `{}`; known: {known}", p.protocol)));
            }
            if !is_evm_address(&p.address) {
                return Err(err("address", format!("`{}` is not 0x followed by 40 hex digits", p.address)));
            }
            if p.chain_id <= 0 {
                return Err(err("chain_id", "must be positive".into()));
            }
            for (name, t) in [("token0", &p.token0), ("token1", &p.token1)] {
                // 10^77 is the largest power of ten below 2^256.
                if t.decimals > 77 {
                    return Err(err(&format!("{name}.decimals"), "at most 77".into()));
                }
                let pair = format!("{}-X", t.symbol);
                pair.parse::<InstrumentId>().map_err(|e| err(&format!("{name}.symbol"), e.to_string()))?;
            }
            let same = |q: &PoolEntry| q.chain_id == p.chain_id && q.address.eq_ignore_ascii_case(&p.address);
            if self.pools[..i].iter().any(same) {
                return Err(err("address", format!("pool {} on chain {} is listed twice", p.address, p.chain_id)));
            }
        }
        Ok(())
    }
}
