//! Exact decimals: every price and size in the pipeline is a [`Decimal`].
//!
//! The value is an `i128` count of 10^-18 units. That is the Avro type
//! `bytes` + `decimal(38, 18)` and the ClickHouse type `Decimal(38, 18)`, so a venue's
//! string reaches the column without ever passing through a float.

use std::fmt;
use std::str::FromStr;

/// Digits after the decimal point that every [`Decimal`] carries.
pub const SCALE: u32 = 18;
/// Total significant digits (Avro `precision`, ClickHouse `Decimal(P, S)`).
pub const PRECISION: u32 = 38;
pub(crate) const ONE: i128 = 1_000_000_000_000_000_000;
/// Largest magnitude allowed by `decimal(38, 18)`: 10^38 - 1 units.
pub(crate) const MAX_UNITS: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// An exact decimal with 18 fractional digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal(i128);

/// Why a string is not a [`Decimal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("empty number")]
    Empty,
    #[error("`{0}` is not a decimal number")]
    Syntax(String),
    #[error("`{0}` has non-zero digits beyond 18 decimal places")]
    TooPrecise(String),
    #[error("`{0}` does not fit decimal(38, 18)")]
    Overflow(String),
    #[error("decimal bytes are {0} long; at most 16 fit decimal(38, 18)")]
    BytesTooLong(usize),
}

impl Decimal {
    pub const ZERO: Decimal = Decimal(0);

    /// From a raw count of 10^-18 units.
    pub const fn from_units(units: i128) -> Decimal {
        Decimal(units)
    }

    /// The raw count of 10^-18 units (the ClickHouse `Decimal128(18)` representation).
    pub const fn units(self) -> i128 {
        self.0
    }

    pub fn from_int(n: i64) -> Decimal {
        Decimal(n as i128 * ONE)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn abs(self) -> Decimal {
        Decimal(self.0.abs())
    }

    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        self.0.checked_add(other.0).filter(|u| u.abs() <= MAX_UNITS).map(Decimal)
    }

    pub fn checked_sub(self, other: Decimal) -> Option<Decimal> {
        self.0.checked_sub(other.0).filter(|u| u.abs() <= MAX_UNITS).map(Decimal)
    }

    /// Avro `decimal` bytes: the unscaled value as 16 big-endian two's-complement bytes.
    ///
    /// Always the full 16 bytes rather than the shortest form: `apache-avro`'s schema
    /// resolution refuses a bytes-decimal whose length could not hold the declared precision
    /// (38 digits need 16 bytes), so short forms would break reading across schema versions.
    /// The broker's zstd squeezes the sign-extension bytes out again.
    pub fn to_avro_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// Inverse of [`Decimal::to_avro_bytes`]; accepts any sign-extended length up to 16.
    pub fn from_avro_bytes(bytes: &[u8]) -> Result<Decimal, DecimalError> {
        if bytes.len() > 16 {
            return Err(DecimalError::BytesTooLong(bytes.len()));
        }
        if bytes.is_empty() {
            return Ok(Decimal::ZERO);
        }
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
        let mut buf = [fill; 16];
        buf[16 - bytes.len()..].copy_from_slice(bytes);
        Ok(Decimal(i128::from_be_bytes(buf)))
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;

    /// Parses `123`, `-0.5`, `+1.25`, `.5`, `1e-8`, `1.5E+3` exactly. Trailing zeros beyond 18
    /// places are fine; any other digit there is refused rather than rounded.
    fn from_str(text: &str) -> Result<Decimal, DecimalError> {
        match parse_plain(text.as_bytes()) {
            Some(units) => Ok(Decimal(units)),
            None => parse_general(text),
        }
    }
}

/// Any decimal text [`Decimal::from_str`] takes, digit by digit in an i128.
fn parse_general(text: &str) -> Result<Decimal, DecimalError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DecimalError::Empty);
    }
    let syntax = || DecimalError::Syntax(text.to_string());
    let (negative, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| syntax())?),
        None => (body, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(syntax());
    }
    if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(syntax());
    }
    // All digits as one integer, with the decimal point `point` places from the right.
    let point = frac_part.len() as i64 - exponent as i64;
    let shift = SCALE as i64 - point; // multiply the digits by 10^shift
    let mut units: i128 = 0;
    let digits = int_part.bytes().chain(frac_part.bytes());
    let total = int_part.len() + frac_part.len();
    for (i, b) in digits.enumerate() {
        let d = (b - b'0') as i128;
        let place_from_right = (total - 1 - i) as i64;
        if shift < 0 && place_from_right < -shift {
            // This digit falls beyond 18 decimal places.
            if d != 0 {
                return Err(DecimalError::TooPrecise(text.to_string()));
            }
            continue;
        }
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(d))
            .ok_or_else(|| DecimalError::Overflow(text.to_string()))?;
    }
    if shift > 0 {
        let factor = 10i128.checked_pow(shift as u32).ok_or_else(|| DecimalError::Overflow(text.to_string()))?;
        units = if units == 0 {
            0
        } else {
            units.checked_mul(factor).ok_or_else(|| DecimalError::Overflow(text.to_string()))?
        };
    }
    if units > MAX_UNITS {
        return Err(DecimalError::Overflow(text.to_string()));
    }
    Ok(Decimal(if negative { -units } else { units }))
}

/// 10^0 ..= 10^18.
const POW10: [i128; 19] = {
    let mut table = [1i128; 19];
    let mut i = 1;
    while i < 19 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// The form venues send nearly always (`27123.45000000`, `-0.5`, `.5`, `12`): an optional
/// sign, at most 19 digits with at most 18 after one point, nothing else. Nineteen digits fit
/// a u64, so the digits are summed without overflow checks and scaled once; the result (at
/// most 10^19 · 10^18) is inside decimal(38, 18). Anything else (an exponent, spaces, more
/// digits, a stray character) is None and goes to the general parser, which also says what
/// is wrong with it.
fn parse_plain(text: &[u8]) -> Option<i128> {
    let (negative, body) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mut units, mut digits, mut point) = (0u64, 0usize, None);
    for (i, &b) in body.iter().enumerate() {
        match b {
            b'0'..=b'9' if digits < 19 => {
                units = units * 10 + u64::from(b - b'0');
                digits += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    let fraction = point.map_or(0, |at| body.len() - at - 1);
    if digits == 0 || fraction > SCALE as usize {
        return None;
    }
    let value = i128::from(units) * POW10[SCALE as usize - fraction];
    Some(if negative { -value } else { value })
}

impl fmt::Display for Decimal {
    /// Shortest exact form: `100`, `0.5`, `-0.00000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let int = abs / ONE as u128;
        let frac = abs % ONE as u128;
        if negative {
            f.write_str("-")?;
        }
        write!(f, "{int}")?;
        if frac != 0 {
            let digits = format!("{frac:018}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Decimal {
    /// Text formats (JSON, YAML) get the exact string; binary formats (Avro) get the
    /// `decimal` logical type's bytes.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_bytes(&self.to_avro_bytes())
        }
    }
}

impl<'de> serde::Deserialize<'de> for Decimal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        struct Visitor;
        impl<'v> serde::de::Visitor<'v> for Visitor {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal string or Avro decimal bytes")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Decimal, E> {
                Decimal::from_avro_bytes(v).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'v>>(self, mut seq: A) -> Result<Decimal, A::Error> {
                // Some deserializers hand bytes over as a sequence of u8.
                let mut bytes = Vec::with_capacity(16);
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                Decimal::from_avro_bytes(&bytes).map_err(serde::de::Error::custom)
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(Visitor)
        } else {
            deserializer.deserialize_bytes(Visitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn parses_venue_strings_exactly() {
        assert_eq!(d("0.00000001").units(), 10_000_000_000);
        assert_eq!(d("43250.10000000").to_string(), "43250.1");
        assert_eq!(d("-1.5").units(), -1_500_000_000_000_000_000);
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("1e-8"), d("0.00000001"));
        assert_eq!(d("1.5E+3").to_string(), "1500");
        assert_eq!(d("0.000000000000000001").units(), 1);
        assert_eq!(d("0.1000000000000000000000").to_string(), "0.1");
        assert_eq!(d("0").to_string(), "0");
        assert_eq!(d("0e5"), Decimal::ZERO);
    }

    /// The fast path for the plain form agrees with the general parser wherever it answers,
    /// and answers for every plain form a venue sends.
    #[test]
    fn the_plain_form_fast_path_agrees_with_the_general_parser() {
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "+7",
            ".5",
            "5.",
            "-.5",
            "0.000000000000000001",
            "9999999999999999999",
            "999999999.999999999",
            "1234567890123456789.0",
            "00000000000000000001",
            "1.0000000000000000000",
            "",
            "-",
            ".",
            "1.2.3",
            " 1",
            "1 ",
            "1e5",
            "0x10",
            "١",
        ]
        .map(String::from)
        .to_vec();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let (int, frac) = (seed % 10_000_000_000, (seed >> 20) % 100_000_000);
            let places = (seed >> 50) as usize % 21;
            let sign = ["", "-", "+"][(seed >> 40) as usize % 3];
            texts.push(format!("{sign}{int}.{frac:0places$}"));
        }
        for t in &texts {
            let fast = parse_plain(t.as_bytes());
            if let Some(units) = fast {
                assert_eq!(Ok(Decimal(units)), parse_general(t), "{t}");
            }
            assert_eq!(t.parse::<Decimal>(), parse_general(t), "{t}");
            // It answers for every text of digits with at most one point, at most 19 digits and
            // at most 18 of them after the point.
            let body = t.strip_prefix(['-', '+']).unwrap_or(t);
            let (int, frac) = body.split_once('.').unwrap_or((body, ""));
            let digits = int.len() + frac.len();
            let plain = (1..=19).contains(&digits)
                && frac.len() <= 18
                && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
            assert_eq!(fast.is_some(), plain, "{t}");
        }
        assert_eq!(parse_plain(b"43250.10000000"), Some(43_250_100_000_000_000_000_000));
        assert_eq!(parse_plain(b"1e5"), None);
    }

    #[test]
    fn refuses_what_it_cannot_hold() {
        assert!(matches!("".parse::<Decimal>(), Err(DecimalError::Empty)));
        assert!(matches!("abc".parse::<Decimal>(), Err(DecimalError::Syntax(_))));
        assert!(matches!("1.2.3".parse::<Decimal>(), Err(DecimalError::Syntax(_))));
        assert!(matches!("-".parse::<Decimal>(), Err(DecimalError::Syntax(_))));
        assert!(matches!("NaN".parse::<Decimal>(), Err(DecimalError::Syntax(_))));
        assert!(matches!("0.0000000000000000001".parse::<Decimal>(), Err(DecimalError::TooPrecise(_))));
        assert_eq!(d("1e19").to_string(), "10000000000000000000");
        assert!(matches!("1e20".parse::<Decimal>(), Err(DecimalError::Overflow(_))));
        assert!(matches!("1e20000".parse::<Decimal>(), Err(DecimalError::Overflow(_))));
        assert!(matches!("100000000000000000000".parse::<Decimal>(), Err(DecimalError::Overflow(_))));
        assert!(d("99999999999999999999.999999999999999999").is_positive());
    }

    #[test]
    fn avro_bytes_round_trip_with_sign() {
        for s in [
            "0",
            "1",
            "-1",
            "0.000000000000000127",
            "0.000000000000000128",
            "-0.000000000000000128",
            "-0.000000000000000129",
            "123456.789",
            "-99999999999999999999.999999999999999999",
        ] {
            let v = d(s);
            let bytes = v.to_avro_bytes();
            assert_eq!(Decimal::from_avro_bytes(&bytes).unwrap(), v, "{s}");
        }
        assert_eq!(Decimal::from_units(-129).to_avro_bytes()[14..], [0xff, 0x7f]);
        // Other writers may send the shortest sign-extended form.
        assert_eq!(Decimal::from_avro_bytes(&[0x7f]).unwrap().units(), 127);
        assert_eq!(Decimal::from_avro_bytes(&[0x00, 0x80]).unwrap().units(), 128);
        assert_eq!(Decimal::from_avro_bytes(&[0x80]).unwrap().units(), -128);
        assert_eq!(Decimal::from_avro_bytes(&[0xff, 0x7f]).unwrap().units(), -129);
        assert_eq!(Decimal::from_avro_bytes(&[]).unwrap(), Decimal::ZERO);
        assert!(Decimal::from_avro_bytes(&[0; 17]).is_err());
    }

    #[test]
    fn json_is_an_exact_string() {
        let v = d("0.1");
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"0.1\"");
        assert_eq!(serde_json::from_str::<Decimal>("\"0.1\"").unwrap(), v);
    }
}

/// Exact products: `a × b` must land on the 18-place grid and fit `decimal(38, 18)`.
impl Decimal {
    /// `self × other`, exact, or `None` when the product needs more than 18 decimal places or
    /// does not fit. (Contract sizes times venue quantities, which must not be rounded.)
    pub fn checked_mul(self, other: Decimal) -> Option<Decimal> {
        // Most contract sizes are 1: skip the 256-bit long division (a library call per
        // 128-bit step on wasm32, where the transforms run).
        let in_range = |d: Decimal| (d.0.unsigned_abs() <= MAX_UNITS as u128).then_some(d);
        if other.0 == ONE {
            return in_range(self);
        }
        if self.0 == ONE {
            return in_range(other);
        }
        let negative = (self.0 < 0) != (other.0 < 0);
        let (hi, lo) = mul_u128(self.0.unsigned_abs(), other.0.unsigned_abs());
        let (q, r) = div_u256_by_u64(hi, lo, ONE as u64)?;
        if r != 0 || q > MAX_UNITS as u128 {
            return None;
        }
        let q = q as i128;
        Some(Decimal(if negative { -q } else { q }))
    }
}

/// Full 256-bit product of two u128 values as (high, low).
pub(crate) fn mul_u128(a: u128, b: u128) -> (u128, u128) {
    let (a_hi, a_lo) = (a >> 64, a & u64::MAX as u128);
    let (b_hi, b_lo) = (b >> 64, b & u64::MAX as u128);
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 64) + (lh & u64::MAX as u128) + (hl & u64::MAX as u128);
    let lo = (ll & u64::MAX as u128) | (mid << 64);
    let hi = hh + (lh >> 64) + (hl >> 64) + (mid >> 64);
    (hi, lo)
}

/// (hi:lo) / d for a 64-bit divisor: the quotient if it fits u128, and the remainder.
pub(crate) fn div_u256_by_u64(hi: u128, lo: u128, d: u64) -> Option<(u128, u64)> {
    let d = d as u128;
    if hi >= d {
        return None; // quotient would not fit in 128 bits
    }
    // Long division in 64-bit digits: hi < d keeps every partial quotient in range.
    let mut rem = hi;
    let mut q: u128 = 0;
    for digit in [lo >> 64, lo & u64::MAX as u128] {
        let cur = (rem << 64) | digit;
        q = (q << 64) | (cur / d);
        rem = cur % d;
    }
    Some((q, rem as u64))
}

#[cfg(test)]
mod mul_tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn products_are_exact_or_refused() {
        assert_eq!(d("0.01").checked_mul(d("12345")), Some(d("123.45")));
        assert_eq!(d("-1.5").checked_mul(d("2")), Some(d("-3")));
        assert_eq!(d("100").checked_mul(d("0.000000000000000001")), Some(d("0.0000000000000001")));
        assert_eq!(d("0.000000001").checked_mul(d("0.000000001")), Some(d("0.000000000000000001")));
        // 10^-20 is off the grid: refused, not rounded.
        assert_eq!(d("0.0000000001").checked_mul(d("0.0000000001")), None);
        // Large operands whose raw unit product exceeds i128 still multiply exactly.
        assert_eq!(d("10000000000").checked_mul(d("1000000000")), Some(d("10000000000000000000")));
        assert_eq!(d("10000000000").checked_mul(d("100000000000")), None);
        assert_eq!(
            d("99999999999999999999.999999999999999999").checked_mul(d("1")),
            Some(d("99999999999999999999.999999999999999999"))
        );
        assert_eq!(Decimal::ZERO.checked_mul(d("-5")), Some(Decimal::ZERO));
        // A factor of one is the other factor, if that fits decimal(38, 18).
        assert_eq!(d("1").checked_mul(d("-2.5")), Some(d("-2.5")));
        let too_big = Decimal::from_avro_bytes(&(MAX_UNITS + 1).to_be_bytes()).unwrap();
        assert_eq!(too_big.checked_mul(d("1")), None);
        assert_eq!(d("1").checked_mul(too_big), None);
    }
}
