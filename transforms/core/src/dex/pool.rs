//! A DEX pool as the transform knows it: protocol, tokens and the canonical pair.

use tickwatch_model::symbols::{PoolEntry, PoolSide};
use tickwatch_model::InstrumentId;

/// The event layouts a pool emits; the two V2 forks share theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    UniswapV2,
    UniswapV3,
    PancakeswapV2,
    PancakeswapV3,
}

impl Protocol {
    pub fn parse(text: &str) -> Option<Protocol> {
        Some(match text {
            "uniswap_v2" => Protocol::UniswapV2,
            "uniswap_v3" => Protocol::UniswapV3,
            "pancakeswap_v2" => Protocol::PancakeswapV2,
            "pancakeswap_v3" => Protocol::PancakeswapV3,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::UniswapV2 => "uniswap_v2",
            Protocol::UniswapV3 => "uniswap_v3",
            Protocol::PancakeswapV2 => "pancakeswap_v2",
            Protocol::PancakeswapV3 => "pancakeswap_v3",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub chain: String,
    pub protocol: Protocol,
    /// `BASE-QUOTE`, asset aliases applied.
    pub instrument: String,
    pub base: PoolSide,
    pub decimals0: u32,
    pub decimals1: u32,
}

impl Pool {
    /// From a validated `symbols.yaml` entry; `rename` applies the asset aliases.
    pub fn new(entry: &PoolEntry, rename: &dyn Fn(&str) -> String) -> Pool {
        let (base, quote) = match entry.base {
            PoolSide::Token0 => (&entry.token0, &entry.token1),
            PoolSide::Token1 => (&entry.token1, &entry.token0),
        };
        Pool {
            chain: entry.chain.clone(),
            protocol: Protocol::parse(&entry.protocol).expect("validated with the symbols file"),
            instrument: InstrumentId::spot(&rename(&base.symbol), &rename(&quote.symbol)).to_string(),
            base: entry.base,
            decimals0: entry.token0.decimals,
            decimals1: entry.token1.decimals,
        }
    }

    /// Decimals of the base token.
    pub fn base_decimals(&self) -> u32 {
        match self.base {
            PoolSide::Token0 => self.decimals0,
            PoolSide::Token1 => self.decimals1,
        }
    }
}
