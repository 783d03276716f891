//! Exact sums of products (quote volume = Σ price × size) and their quotient (VWAP). A
//! product of two 18-place decimals has 36 places and may not fit `decimal(38, 18)`'s grid,
//! so the sum is kept as a 256-bit count of 10^-36 units and rounded once, toward zero, when
//! it is read.

use crate::decimal::{div_u256_by_u64, mul_u128, Decimal, MAX_UNITS, ONE};

/// A non-negative exact sum of products of decimals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notional {
    hi: u128,
    lo: u128,
}

impl Notional {
    /// Add `a × b`; both must be non-negative (prices and sizes are).
    pub fn add_product(&mut self, a: Decimal, b: Decimal) {
        debug_assert!(!a.is_negative() && !b.is_negative(), "notional of a negative {a} × {b}");
        let (hi, lo) = mul_u128(a.units().unsigned_abs(), b.units().unsigned_abs());
        let (lo, carry) = self.lo.overflowing_add(lo);
        self.lo = lo;
        self.hi = self.hi.wrapping_add(hi).wrapping_add(carry as u128);
    }

    pub fn add(&mut self, other: Notional) {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        self.lo = lo;
        self.hi = self.hi.wrapping_add(other.hi).wrapping_add(carry as u128);
    }

    /// The sum rounded toward zero to 18 places; None when it does not fit `decimal(38, 18)`.
    pub fn to_decimal(self) -> Option<Decimal> {
        let (q, _) = div_u256_by_u64(self.hi, self.lo, ONE as u64)?;
        (q <= MAX_UNITS as u128).then(|| Decimal::from_units(q as i128))
    }

    /// `self / divisor` rounded toward zero to 18 places (a VWAP: quote volume over volume);
    /// None for a divisor that is not positive or a quotient that does not fit.
    pub fn divided_by(self, divisor: Decimal) -> Option<Decimal> {
        if !divisor.is_positive() {
            return None;
        }
        // 10^-36 units over 10^-18 units is a count of 10^-18 units.
        let q = div_u256_by_u128(self.hi, self.lo, divisor.units() as u128)?;
        (q <= MAX_UNITS as u128).then(|| Decimal::from_units(q as i128))
    }
}

/// (hi:lo) / d, truncated, when the quotient fits 128 bits; `d` < 2^127 (a decimal's units).
fn div_u256_by_u128(hi: u128, lo: u128, d: u128) -> Option<u128> {
    if hi >= d {
        return None;
    }
    // Restoring division over the low 128 bits: the remainder stays below d < 2^127, so
    // shifting it left never overflows.
    let (mut rem, mut q) = (hi, 0u128);
    for i in (0..128).rev() {
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if rem >= d {
            rem -= d;
            q |= 1;
        }
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn sums_and_quotients_are_exact_then_rounded_once_toward_zero() {
        let mut n = Notional::default();
        // 19 places each: the products are off the 18-place grid, their sum is not.
        n.add_product(d("0.000000000000000001"), d("0.5"));
        n.add_product(d("0.000000000000000001"), d("0.5"));
        assert_eq!(n.to_decimal(), Some(d("0.000000000000000001")));
        let mut q = Notional::default();
        q.add_product(d("30218.8"), d("1"));
        q.add_product(d("30220.1"), d("2"));
        assert_eq!(q.to_decimal(), Some(d("90659")));
        // 90659 / 3 = 30219.666… → truncated at 18 places.
        assert_eq!(q.divided_by(d("3")), Some(d("30219.666666666666666666")));
        assert_eq!(q.divided_by(Decimal::ZERO), None);
        // Large: 10^19 × 10^19 = 10^38 does not fit decimal(38, 18), but divides back.
        let mut big = Notional::default();
        big.add_product(d("10000000000000000000"), d("10000000000000000000"));
        assert_eq!(big.to_decimal(), None);
        assert_eq!(big.divided_by(d("10000000000000000000")), Some(d("10000000000000000000")));
        let mut sum = Notional::default();
        sum.add(q);
        sum.add(q);
        assert_eq!(sum.to_decimal(), Some(d("181318")));
    }
}
