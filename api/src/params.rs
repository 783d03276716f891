//! Query parameters, read one by one so each refusal names its parameter, and any parameter
//! a route does not know is refused too (a misspelt `intrument=` is not silently ignored).

use crate::error::ApiError;
use std::collections::{BTreeMap, BTreeSet};
use tickwatch_model::time::days_from_civil;

pub struct Params {
    given: BTreeMap<String, String>,
    read: BTreeSet<String>,
}

impl Params {
    pub fn new(given: BTreeMap<String, String>) -> Params {
        Params { given, read: BTreeSet::new() }
    }

    /// The raw value, if given and not empty.
    pub fn opt(&mut self, name: &str) -> Option<String> {
        self.read.insert(name.to_string());
        self.given.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    pub fn required(&mut self, name: &str) -> Result<String, ApiError> {
        self.opt(name).ok_or_else(|| ApiError::bad(name, format!("`{name}` is required")))
    }

    /// One of `allowed`.
    pub fn choice(&mut self, name: &str, allowed: &[&str], default: &str) -> Result<String, ApiError> {
        let v = self.opt(name).unwrap_or_else(|| default.to_string());
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(ApiError::bad(name, format!("`{name}` must be one of {} (got `{v}`)", allowed.join(", "))))
        }
    }

    /// A time: integer milliseconds since the epoch, or RFC 3339 (`2026-11-25T10:00:00Z`).
    pub fn time_ms(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.opt(name) else { return Ok(None) };
        parse_time_ms(&v).map(Some).ok_or_else(|| {
            ApiError::bad(
                name,
                format!("`{name}` must be milliseconds since the epoch or RFC 3339 such as 2026-11-25T10:00:00Z (got `{v}`)"),
            )
        })
    }

    pub fn positive(&mut self, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
        let Some(v) = self.opt(name) else { return Ok(default) };
        match v.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad(name, format!("`{name}` must be a whole number from 1 to {max} (got `{v}`)"))),
        }
    }

    /// Refuse parameters nobody read.
    pub fn finish(self) -> Result<(), ApiError> {
        self.finish_ref()
    }

    pub fn finish_ref(&self) -> Result<(), ApiError> {
        match self.given.keys().find(|k| !self.read.contains(*k) && k.as_str() != "key") {
            Some(k) => {
                let known: Vec<&str> = self.read.iter().map(String::as_str).collect();
                Err(ApiError::bad(k, format!("unknown parameter `{k}`; this route takes {}", known.join(", "))))
            }
            None => Ok(()),
        }
    }
}

/// Milliseconds since the epoch, or an RFC 3339 date-time (`Z` or `±hh:mm`, optional fraction).
pub fn parse_time_ms(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':'
        || b[16] != b':'
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut frac_ms = 0;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
        if digits == 0 {
            return None;
        }
        let ms_digits: String = f[..digits].chars().chain("000".chars()).take(3).collect();
        frac_ms = ms_digits.parse::<i64>().ok()?;
        rest = &f[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let m = rest[1..3].parse::<i64>().ok()? * 60 + rest[4..6].parse::<i64>().ok()?;
            if rest.starts_with('-') {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3_600 + mi * 60 + s - offset_min * 60) * 1_000) + frac_ms)
}

/// A page position: the sort key of the last item returned, hex-encoded so it travels in a
/// query string untouched.
pub fn encode_cursor(keys: &[serde_json::Value]) -> String {
    serde_json::to_vec(keys).unwrap_or_default().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_cursor(text: &str, arity: usize) -> Result<Vec<serde_json::Value>, ApiError> {
    let bad = || ApiError::bad("cursor", "`cursor` must be a next_cursor value returned by this route");
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let keys: Vec<serde_json::Value> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    (keys.len() == arity).then_some(keys).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_forms() {
        assert_eq!(parse_time_ms("1764064800000"), Some(1_764_064_800_000));
        assert_eq!(parse_time_ms("2025-11-25T10:00:00Z"), Some(1_764_064_800_000));
        assert_eq!(parse_time_ms("2025-11-25T10:00:00.5Z"), Some(1_764_064_800_500));
        assert_eq!(parse_time_ms("2025-11-25T12:00:00+02:00"), Some(1_764_064_800_000));
        assert_eq!(parse_time_ms("2025-11-25T10:00:00.123456-00:30"), Some(1_764_066_600_123));
        for bad in ["", "yesterday", "2025-13-01T00:00:00Z", "2025-11-25T10:00:00", "2025-11-25T10:00:00.Z"] {
            assert_eq!(parse_time_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let keys = vec![serde_json::json!(1_764_064_800_000_000i64), serde_json::json!("okx")];
        assert_eq!(decode_cursor(&encode_cursor(&keys), 2).unwrap(), keys);
        assert!(decode_cursor(&encode_cursor(&keys), 3).is_err());
        assert!(decode_cursor("zz", 1).is_err());
    }

    #[test]
    fn unknown_and_bad_parameters_are_named() {
        let given = [("limit", "0"), ("intrument", "BTC-USDT")].map(|(k, v)| (k.to_string(), v.to_string()));
        let mut p = Params::new(given.into_iter().collect());
        let e = p.positive("limit", 500, 5000).unwrap_err();
        assert!(matches!(&e, ApiError::BadParameter { parameter, .. } if parameter == "limit"), "{e}");
        let e = p.finish().unwrap_err();
        assert!(matches!(&e, ApiError::BadParameter { parameter, .. } if parameter == "intrument"), "{e}");
    }
}
