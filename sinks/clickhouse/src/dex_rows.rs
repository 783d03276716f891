//! Rows of `dex_swaps` (schemas/clickhouse/007_dex_swaps.sql): every version of a swap log,
//! the table keeping the highest. Same conventions as `rows`; the on-chain integers, base-10
//! strings in the record, go in as `Int256` (amounts) and `UInt256` (pool state), whose
//! RowBinary form is 32 bytes of two's complement, little endian.

use crate::rows::HotTable;
use clickhouse::types::{Int256, UInt256};
use clickhouse::Row;
use serde::Serialize;
use tickwatch_model::{DexSwap, SwapStatus};

#[derive(Row, Serialize)]
pub struct DexSwapRow<'a> {
    chain: &'a str,
    chain_id: i64,
    protocol: &'a str,
    pool: &'a str,
    instrument: &'a str,
    block_number: i64,
    block_hash: &'a str,
    tx_hash: &'a str,
    log_index: i64,
    sender: &'a str,
    recipient: &'a str,
    amount0_raw: Int256,
    amount1_raw: Int256,
    decimals0: i32,
    decimals1: i32,
    sqrt_price_x96: Option<UInt256>,
    liquidity: Option<UInt256>,
    tick: Option<i32>,
    reserve0_raw: Option<UInt256>,
    reserve1_raw: Option<UInt256>,
    price: i128,
    base_size: i128,
    status: i8,
    version: i64,
    block_time: i64,
    receive_time: i64,
    source_lag_ms: i64,
}

/// A base-10 integer (digits, with a leading `-` when `signed`) as 256-bit two's complement,
/// little endian; `None` when the text is not one or the value does not fit.
pub fn le_256(text: &str, signed: bool) -> Option<[u8; 32]> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) if signed => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // The magnitude, in 64-bit limbs, least significant first.
    let mut limbs = [0u64; 4];
    for digit in digits.bytes() {
        let mut carry = (digit - b'0') as u128;
        for limb in &mut limbs {
            let v = *limb as u128 * 10 + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        if carry != 0 {
            return None;
        }
    }
    if signed && limbs[3] >> 63 == 1 {
        // Past 2^255 - 1: only -2^255 itself fits, and its two's complement is its magnitude.
        let minimum = limbs[3] == 1 << 63 && limbs[..3].iter().all(|l| *l == 0);
        if !(negative && minimum) {
            return None;
        }
    } else if negative {
        // Two's complement: invert, then add one.
        let mut carry = true;
        for limb in &mut limbs {
            let (v, c) = (!*limb).overflowing_add(carry as u64);
            *limb = v;
            carry = c;
        }
    }
    let mut out = [0u8; 32];
    for (chunk, limb) in out.chunks_exact_mut(8).zip(limbs) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    Some(out)
}

/// The record's on-chain integers, as their columns take them.
struct Integers {
    amount0: Int256,
    amount1: Int256,
    sqrt_price_x96: Option<UInt256>,
    liquidity: Option<UInt256>,
    reserve0: Option<UInt256>,
    reserve1: Option<UInt256>,
}

fn integers(s: &DexSwap) -> Result<Integers, String> {
    let signed = |name: &str, text: &str| {
        le_256(text, true)
            .map(Int256::from_le_bytes)
            .ok_or_else(|| format!("{name} `{text}` is not a signed 256-bit integer"))
    };
    let unsigned = |name: &str, text: &Option<String>| match text {
        None => Ok(None),
        Some(t) => le_256(t, false)
            .map(|b| Some(UInt256::from_le_bytes(b)))
            .ok_or_else(|| format!("{name} `{t}` is not an unsigned 256-bit integer")),
    };
    Ok(Integers {
        amount0: signed("amount0_raw", &s.amount0_raw)?,
        amount1: signed("amount1_raw", &s.amount1_raw)?,
        sqrt_price_x96: unsigned("sqrt_price_x96", &s.sqrt_price_x96)?,
        liquidity: unsigned("liquidity", &s.liquidity)?,
        reserve0: unsigned("reserve0_raw", &s.reserve0_raw)?,
        reserve1: unsigned("reserve1_raw", &s.reserve1_raw)?,
    })
}

impl HotTable for DexSwap {
    type Row = DexSwapRow<'static>;
    const TABLE: &'static str = "dex_swaps";
    /// The protocol is the venue of a swap (as the DEX transform labels its records).
    fn received(&self) -> Option<(&str, i64)> {
        Some((&self.protocol, self.receive_time_us))
    }
    fn check(&self) -> Result<(), String> {
        integers(self).map(|_| ())
    }
    fn row(&self) -> DexSwapRow<'_> {
        // `Pending::push` keeps only records whose `check` passed, so the zeros are never used.
        let n = integers(self).unwrap_or(Integers {
            amount0: Int256::ZERO,
            amount1: Int256::ZERO,
            sqrt_price_x96: None,
            liquidity: None,
            reserve0: None,
            reserve1: None,
        });
        DexSwapRow {
            chain: &self.chain,
            chain_id: self.chain_id,
            protocol: &self.protocol,
            pool: &self.pool,
            instrument: &self.instrument,
            block_number: self.block_number,
            block_hash: &self.block_hash,
            tx_hash: &self.tx_hash,
            log_index: self.log_index,
            sender: &self.sender,
            recipient: &self.recipient,
            amount0_raw: n.amount0,
            amount1_raw: n.amount1,
            decimals0: self.decimals0,
            decimals1: self.decimals1,
            sqrt_price_x96: n.sqrt_price_x96,
            liquidity: n.liquidity,
            tick: self.tick,
            reserve0_raw: n.reserve0,
            reserve1_raw: n.reserve1,
            price: self.price.units(),
            base_size: self.base_size.units(),
            status: match self.status {
                SwapStatus::Pending => 0,
                SwapStatus::Confirmed => 1,
                SwapStatus::Retracted => 2,
            },
            version: self.version,
            block_time: self.block_time_us,
            receive_time: self.receive_time_us,
            source_lag_ms: self.source_lag_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::le_256;

    fn limbs(bytes: [u8; 32]) -> [u64; 4] {
        std::array::from_fn(|i| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap()))
    }

    #[test]
    fn integers_become_256_bit_twos_complement() {
        assert_eq!(limbs(le_256("0", true).unwrap()), [0; 4]);
        assert_eq!(limbs(le_256("-1", true).unwrap()), [u64::MAX; 4]);
        // 2^128 + 1 and its negation: past any 128-bit column.
        assert_eq!(limbs(le_256("340282366920938463463374607431768211457", true).unwrap()), [1, 0, 1, 0]);
        assert_eq!(
            limbs(le_256("-340282366920938463463374607431768211457", true).unwrap()),
            [u64::MAX, u64::MAX, u64::MAX - 1, u64::MAX]
        );
        let max_signed = "57896044618658097711785492504343953926634992332820282019728792003956564819967";
        let min_signed = "-57896044618658097711785492504343953926634992332820282019728792003956564819968";
        let max_unsigned = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(limbs(le_256(max_signed, true).unwrap()), [u64::MAX, u64::MAX, u64::MAX, u64::MAX >> 1]);
        assert_eq!(limbs(le_256(min_signed, true).unwrap()), [0, 0, 0, 1 << 63]);
        assert_eq!(limbs(le_256(max_unsigned, false).unwrap()), [u64::MAX; 4]);
        // One past each end, signs where they do not belong, and what is no integer.
        assert_eq!(le_256("57896044618658097711785492504343953926634992332820282019728792003956564819968", true), None);
        assert_eq!(
            le_256("-57896044618658097711785492504343953926634992332820282019728792003956564819969", true),
            None
        );
        assert_eq!(
            le_256("115792089237316195423570985008687907853269984665640564039457584007913129639936", false),
            None
        );
        for bad in ["", "-", "-5", "+5", "1_000", "12abc", " 7", "1.5"] {
            assert_eq!(le_256(bad, false), None, "{bad}");
        }
        assert_eq!(le_256("+5", true), None);
    }
}
