//! Each synthetic pool's state and how a swap moves it: V2 pairs by constant product on
//! their reserves (0.3 % fee), V3 pools by a step of the square-root price at constant
//! liquidity. f64 math: the numbers only have to be plausible and self-consistent, and each
//! swap moves the price by well under 2 % (the DEX transform rejects jumps over 20 %).

use super::logs::{self, Event, V3After};
use super::{FakePool, PoolKind};

/// How deep each pool starts: this many whole token0 in the (virtual) reserves.
const DEPTH_TOKEN0: f64 = 1000.0;
/// 2^96, the fixed-point scale of sqrtPriceX96.
const Q96: f64 = 79_228_162_514_264_337_593_543_950_336.0;
/// The largest uint112 (a V2 reserve).
const MAX_RESERVE: u128 = (1 << 112) - 1;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PoolState {
    V2 {
        reserve0: u128,
        reserve1: u128,
    },
    /// `sqrt_price` = sqrt(raw token1 per raw token0), unscaled.
    V3 {
        sqrt_price: f64,
        liquidity: u128,
        fees0: u128,
        fees1: u128,
    },
}

/// A swap a trader sends: which way and how big (`size_ppm` of the pool's depth, in parts
/// per million). Re-included after a reorg, the same intent meets another pool state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Trade {
    pub tx_hash: String,
    pub pool: usize,
    pub zero_for_one: bool,
    pub size_ppm: u32,
    pub trader: String,
}

/// The smallest and largest swap, in parts per million of the pool's depth: up to 0.5 %
/// of the reserves, so the price moves by at most about 1 % per swap.
pub(crate) const SIZE_PPM: std::ops::RangeInclusive<u32> = 500..=5000;

fn to_u128(v: f64) -> u128 {
    // `as` saturates, and NaN becomes 0: fine for numbers that only have to look real.
    v.max(0.0) as u128
}

impl PoolState {
    /// The starting state of `pool`, from its price in whole tokens.
    pub fn open(pool: &FakePool) -> PoolState {
        let raw_price = pool.price * 10f64.powi(pool.decimals1 as i32 - pool.decimals0 as i32);
        let reserve0 = DEPTH_TOKEN0 * 10f64.powi(pool.decimals0 as i32);
        match pool.kind {
            PoolKind::UniswapV2 | PoolKind::PancakeswapV2 => PoolState::V2 {
                reserve0: to_u128(reserve0).min(MAX_RESERVE),
                reserve1: to_u128(reserve0 * raw_price).clamp(1, MAX_RESERVE),
            },
            PoolKind::UniswapV3 | PoolKind::PancakeswapV3 => {
                let sqrt_price = raw_price.sqrt();
                PoolState::V3 { sqrt_price, liquidity: to_u128(reserve0 * sqrt_price).max(1), fees0: 0, fees1: 0 }
            }
        }
    }

    /// Apply `trade` and return the events the pool emits for it (V2: Sync then Swap).
    pub fn swap(&mut self, pool: &FakePool, router: &str, trade: &Trade) -> Vec<Event> {
        let fraction = trade.size_ppm as f64 / 1e6;
        match self {
            PoolState::V2 { reserve0, reserve1 } => {
                let (reserve_in, reserve_out) =
                    if trade.zero_for_one { (*reserve0, *reserve1) } else { (*reserve1, *reserve0) };
                let amount_in = to_u128(reserve_in as f64 * fraction).max(1);
                let with_fee = amount_in as f64 * 0.997;
                let amount_out =
                    to_u128(reserve_out as f64 * with_fee / (reserve_in as f64 + with_fee)).min(reserve_out - 1);
                let (new_in, new_out) = ((reserve_in + amount_in).min(MAX_RESERVE), reserve_out - amount_out);
                let amounts = if trade.zero_for_one {
                    (*reserve0, *reserve1) = (new_in, new_out);
                    [amount_in, 0, 0, amount_out]
                } else {
                    (*reserve1, *reserve0) = (new_in, new_out);
                    [0, amount_in, amount_out, 0]
                };
                vec![logs::v2_sync(*reserve0, *reserve1), logs::v2_swap(router, &trade.trader, amounts)]
            }
            PoolState::V3 { sqrt_price, liquidity, fees0, fees1 } => {
                // Selling token0 pushes its price (token1 per token0) down, buying pushes it up.
                let step = if trade.zero_for_one { 1.0 - fraction / 2.0 } else { 1.0 + fraction / 2.0 };
                let (before, after) = (*sqrt_price, *sqrt_price * step);
                let l = *liquidity as f64;
                // Positive = into the pool (rounded up), negative = out of it (rounded down).
                let signed = |v: f64| if v > 0.0 { v.ceil() as i128 } else { (v.ceil() as i128).min(-1) };
                let amount0 = signed(l * (1.0 / after - 1.0 / before));
                let amount1 = signed(l * (after - before));
                *sqrt_price = after;
                let protocol_fees = matches!(pool.kind, PoolKind::PancakeswapV3).then(|| {
                    // A sliver of each input accrues as protocol fees, as on the real pools.
                    *fees0 += amount0.max(0) as u128 / 3000;
                    *fees1 += amount1.max(0) as u128 / 3000;
                    (*fees0, *fees1)
                });
                let state = V3After {
                    sqrt_price_x96: to_u128(after * Q96),
                    liquidity: *liquidity,
                    tick: ((after * after).ln() / 1.0001f64.ln()).floor() as i32,
                    protocol_fees,
                };
                vec![logs::v3_swap(router, &trade.trader, amount0, amount1, state)]
            }
        }
    }

    /// Raw token1 per raw token0 now.
    #[cfg(test)]
    pub fn raw_price(&self) -> f64 {
        match self {
            PoolState::V2 { reserve0, reserve1 } => *reserve1 as f64 / *reserve0 as f64,
            PoolState::V3 { sqrt_price, .. } => sqrt_price * sqrt_price,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(kind: PoolKind) -> FakePool {
        FakePool {
            address: "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640".into(),
            kind,
            token0: "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48".into(),
            token1: "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2".into(),
            decimals0: 6,
            decimals1: 18,
            price: 0.00032,
        }
    }

    fn trade(zero_for_one: bool, size_ppm: u32) -> Trade {
        Trade { tx_hash: "0x00".into(), pool: 0, zero_for_one, size_ppm, trader: "0x01".into() }
    }

    #[test]
    fn swaps_move_the_price_a_little_and_the_right_way() {
        for kind in [PoolKind::UniswapV2, PoolKind::UniswapV3, PoolKind::PancakeswapV3] {
            let p = pool(kind);
            let mut state = PoolState::open(&p);
            let start = state.raw_price();
            assert!((start / 0.00032e12 - 1.0).abs() < 1e-6, "{kind:?} opens at {start}");
            state.swap(&p, "0x02", &trade(true, *SIZE_PPM.end()));
            let down = state.raw_price() / start;
            assert!(down < 1.0 && down > 0.98, "{kind:?} selling token0 moved the price by {down}");
            state.swap(&p, "0x02", &trade(false, *SIZE_PPM.end()));
            state.swap(&p, "0x02", &trade(false, *SIZE_PPM.end()));
            assert!(state.raw_price() > start, "{kind:?} buying token0 raises its price");
        }
    }

    #[test]
    fn v3_amounts_have_opposite_signs_and_the_tick_brackets_the_price() {
        let p = pool(PoolKind::UniswapV3);
        let mut state = PoolState::open(&p);
        let event = state.swap(&p, "0x02", &trade(false, 2000)).remove(0);
        let word = |i: usize| &event.data[32 * i..32 * (i + 1)];
        assert_eq!(word(0)[0], 0xff, "token0 leaves the pool");
        assert_eq!(word(1)[0], 0x00, "token1 enters it");
        let tick = i32::from_be_bytes(word(4)[28..].try_into().unwrap());
        let price = state.raw_price();
        assert!(1.0001f64.powi(tick) <= price * (1.0 + 1e-9) && price < 1.0001f64.powi(tick + 1));
    }
}
