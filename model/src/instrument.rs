//! Canonical instrument ids: one name per tradable thing, whatever the venue calls it.
//!
//! `BTC-USDT` (spot), `BTC-USDT-PERP` (perpetual swap), `BTC-USD-20260327` (dated future,
//! expiry as UTC date). The venue-to-canonical mapping lives in the transforms; this module
//! only defines the id and its grammar.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstrumentKind {
    Spot,
    Perp,
    Future,
}
crate::codec::avro_enum!(InstrumentKind, Spot, Perp, Future);

/// Calendar date of a future's expiry, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExpiryDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl ExpiryDate {
    /// Midnight UTC of the date, in microseconds since the epoch.
    pub fn to_unix_micros(self) -> i64 {
        crate::time::days_from_civil(self.year as i64, self.month as i64, self.day as i64) * 86_400_000_000
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstrumentId {
    pub base: String,
    pub quote: String,
    pub kind: InstrumentKind,
    /// Set exactly when `kind` is `Future`.
    pub expiry: Option<ExpiryDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a canonical instrument id ({why}); expected BASE-QUOTE, BASE-QUOTE-PERP or BASE-QUOTE-YYYYMMDD"
)]
pub struct InstrumentIdError {
    pub text: String,
    pub why: &'static str,
}

impl InstrumentId {
    pub fn spot(base: &str, quote: &str) -> InstrumentId {
        InstrumentId {
            base: base.to_uppercase(),
            quote: quote.to_uppercase(),
            kind: InstrumentKind::Spot,
            expiry: None,
        }
    }

    pub fn perp(base: &str, quote: &str) -> InstrumentId {
        InstrumentId {
            base: base.to_uppercase(),
            quote: quote.to_uppercase(),
            kind: InstrumentKind::Perp,
            expiry: None,
        }
    }

    pub fn future(base: &str, quote: &str, expiry: ExpiryDate) -> InstrumentId {
        InstrumentId {
            base: base.to_uppercase(),
            quote: quote.to_uppercase(),
            kind: InstrumentKind::Future,
            expiry: Some(expiry),
        }
    }
}

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.base, self.quote)?;
        match (self.kind, self.expiry) {
            (InstrumentKind::Spot, _) => Ok(()),
            (InstrumentKind::Perp, _) => f.write_str("-PERP"),
            (InstrumentKind::Future, Some(e)) => {
                write!(f, "-{:04}{:02}{:02}", e.year, e.month, e.day)
            }
            (InstrumentKind::Future, None) => f.write_str("-FUTURE"),
        }
    }
}

fn is_asset(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl FromStr for InstrumentId {
    type Err = InstrumentIdError;

    fn from_str(text: &str) -> Result<InstrumentId, InstrumentIdError> {
        let err = |why| InstrumentIdError { text: text.to_string(), why };
        let parts: Vec<&str> = text.split('-').collect();
        let (base, quote) = match parts.as_slice() {
            [b, q, ..] => (*b, *q),
            _ => return Err(err("missing quote asset")),
        };
        if !is_asset(base) || !is_asset(quote) {
            return Err(err("assets are 1-20 upper-case letters or digits"));
        }
        match parts.as_slice() {
            [_, _] => Ok(InstrumentId::spot(base, quote)),
            [_, _, "PERP"] => Ok(InstrumentId::perp(base, quote)),
            [_, _, date] if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => {
                let year: u16 = date[0..4].parse().map_err(|_| err("bad year"))?;
                let month: u8 = date[4..6].parse().map_err(|_| err("bad month"))?;
                let day: u8 = date[6..8].parse().map_err(|_| err("bad day"))?;
                if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
                    return Err(err("expiry is not a calendar date"));
                }
                Ok(InstrumentId::future(base, quote, ExpiryDate { year, month, day }))
            }
            _ => Err(err("the third part must be PERP or an expiry date YYYYMMDD")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids_round_trip() {
        for id in ["BTC-USDT", "BTC-USDT-PERP", "BTC-USD-20220527", "1000PEPE-USDT-PERP"] {
            assert_eq!(id.parse::<InstrumentId>().unwrap().to_string(), id);
        }
        let f: InstrumentId = "BTC-USD-20220527".parse().unwrap();
        assert_eq!(f.kind, InstrumentKind::Future);
        assert_eq!(f.expiry.unwrap().to_unix_micros(), 1_653_609_600_000_000);
    }

    #[test]
    fn rejects_venue_spellings() {
        for bad in ["BTCUSDT", "BTC-USDT-SWAP", "btc-usdt", "BTC-", "BTC-USD-20221399", ""] {
            assert!(bad.parse::<InstrumentId>().is_err(), "{bad}");
        }
    }
}
