//! `raw.dex` → `dex.swaps`: decode a pool's swap log, price it exactly with the pool's token
//! decimals, and apply the data-quality rules.
//!
//! A Uniswap/PancakeSwap V2 pair emits `Sync` (its reserves after the operation) just before
//! each `Swap` of the same transaction. The `Sync` yields no record of its own: it is kept per
//! pool and its reserves price the `Swap` that follows (`reserve0_raw`/`reserve1_raw`). A
//! `Swap` whose `Sync` was not seen (the transform restarted between the two) is priced at
//! its execution price, with the reserve fields null.

pub mod log;
pub mod pool;
pub mod price;
#[cfg(test)]
mod tests;

use crate::listing::ListingBook;
use crate::reason::QuarantineReason;
use crate::route::Normalize;
use crate::rules::{self, Rejection, RuleConfig};
use log::{PoolEvent, Swap};
use num_bigint::BigUint;
use pool::Pool;
use price::PriceError;
use std::collections::HashMap;
use tickwatch_model::symbols::PoolSide;
use tickwatch_model::time::source_lag_ms;
use tickwatch_model::{Decimal, DexSwap, RawDexLog, SwapStatus};

/// (chain id, lowercase pool address).
type PoolKey = (i64, String);

/// The last `Sync` of a pool and where it was.
struct LastSync {
    block_hash: String,
    tx_hash: String,
    log_index: i64,
    reserve0: BigUint,
    reserve1: BigUint,
}

pub struct DexNormalizer {
    listings: ListingBook,
    rules: RuleConfig,
    syncs: HashMap<PoolKey, LastSync>,
    last_good: HashMap<PoolKey, Decimal>,
    /// The swap `absorb` decoded, handed to `normalize` for the same record.
    decoded: Option<Swap>,
}

impl DexNormalizer {
    pub fn new(listings: ListingBook, rules: RuleConfig) -> DexNormalizer {
        DexNormalizer { listings, rules, syncs: HashMap::new(), last_good: HashMap::new(), decoded: None }
    }

    fn pool(&self, raw: &RawDexLog) -> Result<&Pool, Rejection> {
        self.listings.pool(raw.chain_id, &raw.address).ok_or_else(|| {
            Rejection::new(
                QuarantineReason::UnknownInstrument,
                "known_pool/v1",
                format!("pool {} on chain {} ({}) is not in symbols.yaml", raw.address, raw.chain_id, raw.chain),
            )
        })
    }

    /// The reserves of the `Sync` just before this swap in the same transaction, if seen.
    fn sync_for(&self, key: &PoolKey, raw: &RawDexLog) -> Option<&LastSync> {
        self.syncs
            .get(key)
            .filter(|s| s.block_hash == raw.block_hash && s.tx_hash == raw.tx_hash && s.log_index < raw.log_index)
    }
}

fn price_rejection(e: PriceError, what: &str) -> Rejection {
    match e {
        PriceError::Zero => {
            Rejection::new(QuarantineReason::PriceNotPositive, "price_positive/v1", format!("{what}: a side is 0"))
        }
        PriceError::TooLarge => Rejection::new(
            QuarantineReason::Inexact,
            "decimal_range/v1",
            format!("{what} does not fit decimal(38, 18)"),
        ),
    }
}

impl Normalize for DexNormalizer {
    type Raw = RawDexLog;
    type Clean = DexSwap;

    fn absorb(&mut self, raw: &RawDexLog, _broker_time_ms: i64) -> Result<bool, Rejection> {
        let protocol = self.pool(raw)?.protocol;
        match log::decode(protocol, &raw.topics, &raw.data)? {
            PoolEvent::Sync { reserve0, reserve1 } => {
                let sync = LastSync {
                    block_hash: raw.block_hash.clone(),
                    tx_hash: raw.tx_hash.clone(),
                    log_index: raw.log_index,
                    reserve0,
                    reserve1,
                };
                self.syncs.insert((raw.chain_id, raw.address.to_ascii_lowercase()), sync);
                Ok(true)
            }
            PoolEvent::Swap(swap) => {
                self.decoded = Some(swap);
                Ok(false)
            }
        }
    }

    fn normalize(&mut self, raw: &RawDexLog, broker_time_ms: i64) -> Result<DexSwap, Rejection> {
        let swap = match self.decoded.take() {
            Some(s) => s,
            None => match log::decode(self.pool(raw)?.protocol, &raw.topics, &raw.data)? {
                PoolEvent::Swap(s) => s,
                PoolEvent::Sync { .. } => {
                    return Err(Rejection::new(QuarantineReason::UnknownEvent, "dex_event/v1", "a Sync is not a swap"))
                }
            },
        };
        let pool = self.pool(raw)?;
        let key = (raw.chain_id, raw.address.to_ascii_lowercase());
        let status = if raw.removed { SwapStatus::Retracted } else { raw.status };
        // A retraction must always reach the tables, whatever its time or price.
        let retracted = status == SwapStatus::Retracted;
        if !retracted {
            rules::timely(raw.block_time_us, broker_time_ms, &self.rules)?;
        }
        let base_raw = match pool.base {
            PoolSide::Token0 => swap.amount0.magnitude(),
            PoolSide::Token1 => swap.amount1.magnitude(),
        };
        let base_size =
            price::token_amount(base_raw, pool.base_decimals()).map_err(|e| price_rejection(e, "base amount"))?;
        rules::positive_size(base_size)?;
        let sync = self.sync_for(&key, raw);
        let price = match (&swap.v3, sync) {
            (Some(v3), _) => price::v3_quote_per_base(&v3.sqrt_price_x96, pool),
            (None, Some(s)) => price::quote_per_base(&s.reserve1, &s.reserve0, pool),
            (None, None) => price::quote_per_base(swap.amount1.magnitude(), swap.amount0.magnitude(), pool),
        }
        .map_err(|e| price_rejection(e, "price"))?;
        rules::positive_price(price)?;
        if !retracted {
            rules::no_jump(price, self.last_good.get(&key).copied(), &self.rules)?;
        }
        let reserves = sync.map(|s| (s.reserve0.to_string(), s.reserve1.to_string()));
        let clean = DexSwap {
            chain: raw.chain.clone(),
            chain_id: raw.chain_id,
            protocol: pool.protocol.as_str().to_string(),
            pool: key.1.clone(),
            instrument: pool.instrument.clone(),
            block_number: raw.block_number,
            block_hash: raw.block_hash.clone(),
            tx_hash: raw.tx_hash.clone(),
            log_index: raw.log_index,
            sender: swap.sender,
            recipient: swap.recipient,
            amount0_raw: swap.amount0.to_string(),
            amount1_raw: swap.amount1.to_string(),
            decimals0: pool.decimals0 as i32,
            decimals1: pool.decimals1 as i32,
            sqrt_price_x96: swap.v3.as_ref().map(|v| v.sqrt_price_x96.to_string()),
            liquidity: swap.v3.as_ref().map(|v| v.liquidity.to_string()),
            tick: swap.v3.as_ref().map(|v| v.tick),
            reserve0_raw: reserves.as_ref().map(|r| r.0.clone()),
            reserve1_raw: reserves.map(|r| r.1),
            price,
            base_size,
            status,
            version: raw.version,
            block_time_us: raw.block_time_us,
            receive_time_us: raw.receive_time_us,
            source_lag_ms: source_lag_ms(raw.block_time_us, raw.receive_time_us),
        };
        if !retracted {
            self.last_good.insert(key, price);
        }
        Ok(clean)
    }

    fn key(clean: &DexSwap) -> &str {
        &clean.instrument
    }

    fn venue(raw: &RawDexLog) -> Option<&str> {
        Some(&raw.protocol)
    }
}
