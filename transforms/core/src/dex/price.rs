//! Exact pool prices: integer arithmetic on the on-chain values, one rounding (toward zero)
//! at the 18th decimal place of the result.

use super::pool::Pool;
use num_bigint::BigUint;
use num_traits::{ToPrimitive, Zero};
use tickwatch_model::symbols::PoolSide;
use tickwatch_model::Decimal;

/// Why a price or amount has no `Decimal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceError {
    /// A side of the ratio is zero (an empty pool, a one-sided amount).
    Zero,
    /// Beyond decimal(38, 18).
    TooLarge,
}

fn pow10(n: u32) -> BigUint {
    BigUint::from(10u32).pow(n)
}

/// 10^-18 units → `Decimal`, if within decimal(38, 18).
fn to_decimal(units: BigUint) -> Result<Decimal, PriceError> {
    match units.to_i128() {
        Some(u) if u < 10i128.pow(38) => Ok(Decimal::from_units(u)),
        _ => Err(PriceError::TooLarge),
    }
}

/// Quote per base, given the pool's raw price of token0 in token1 as `num / den`
/// (token1 smallest units per token0 smallest unit).
///
/// token0 in token1, human units: `num/den × 10^d0 / 10^d1`; its inverse when token1 is the
/// base. Both become one integer division of 10^-18 units.
pub fn quote_per_base(num: &BigUint, den: &BigUint, pool: &Pool) -> Result<Decimal, PriceError> {
    if num.is_zero() || den.is_zero() {
        return Err(PriceError::Zero);
    }
    let (d0, d1) = (pool.decimals0, pool.decimals1);
    let units = match pool.base {
        PoolSide::Token0 => (num * pow10(d0 + 18)) / (den * pow10(d1)),
        PoolSide::Token1 => (den * pow10(d1 + 18)) / (num * pow10(d0)),
    };
    to_decimal(units)
}

/// A V3 pool's price from `sqrtPriceX96`: token0 in token1 = sqrtPriceX96² / 2^192.
pub fn v3_quote_per_base(sqrt_price_x96: &BigUint, pool: &Pool) -> Result<Decimal, PriceError> {
    quote_per_base(&(sqrt_price_x96 * sqrt_price_x96), &(BigUint::from(1u32) << 192), pool)
}

/// `raw` smallest units of a token with `decimals` → token units, rounded toward zero.
pub fn token_amount(raw: &BigUint, decimals: u32) -> Result<Decimal, PriceError> {
    let units = if decimals <= 18 { raw * pow10(18 - decimals) } else { raw / pow10(decimals - 18) };
    to_decimal(units)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dex::pool::Protocol;

    fn pool(base: PoolSide, decimals0: u32, decimals1: u32) -> Pool {
        Pool {
            chain: "ethereum".into(),
            protocol: Protocol::UniswapV3,
            instrument: "X-Y".into(),
            base,
            decimals0,
            decimals1,
        }
    }

    fn n(s: &str) -> BigUint {
        s.parse().unwrap()
    }

    #[test]
    fn v3_usdc_weth_matches_the_worked_example() {
        // USDC (6) / WETH (18), 0.05 % pool; sqrtPriceX96 from the real log.
        let sqrt = n("1419330143817945704579005219627373");
        let weth_in_usdc = v3_quote_per_base(&sqrt, &pool(PoolSide::Token1, 6, 18)).unwrap();
        assert_eq!(weth_in_usdc.to_string(), "3115.963161695143604064");
        let usdc_in_weth = v3_quote_per_base(&sqrt, &pool(PoolSide::Token0, 6, 18)).unwrap();
        assert_eq!(usdc_in_weth.to_string(), "0.000320928055983813");
    }

    #[test]
    fn v2_reserves_match_the_worked_example() {
        let (r0, r1) = (n("4743042891702314155219862610723"), n("648233828172957463925"));
        let pepe_in_weth = quote_per_base(&r1, &r0, &pool(PoolSide::Token0, 18, 18)).unwrap();
        assert_eq!(pepe_in_weth.to_string(), "0.000000000136670454");
        let weth_in_pepe = quote_per_base(&r1, &r0, &pool(PoolSide::Token1, 18, 18)).unwrap();
        assert_eq!(weth_in_pepe.to_string(), "7316870372.332384374968599944");
    }

    #[test]
    fn edges() {
        let p = pool(PoolSide::Token0, 18, 18);
        assert_eq!(quote_per_base(&n("0"), &n("1"), &p), Err(PriceError::Zero));
        assert_eq!(quote_per_base(&(n("1") << 200), &n("1"), &p), Err(PriceError::TooLarge));
        assert_eq!(token_amount(&n("963265801"), 18).unwrap().to_string(), "0.000000000963265801");
        assert_eq!(token_amount(&n("3"), 6).unwrap().to_string(), "0.000003");
        // More decimals than 18: rounded toward zero.
        assert_eq!(token_amount(&n("1999999"), 24).unwrap().to_string(), "0.000000000000000001");
    }
}
