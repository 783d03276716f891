//! `config/symbols.yaml`: venue symbols ↔ canonical instrument ids, contract sizes and
//! precisions. Plain types and checks, no file access: the runtime loads the file, the
//! transforms bake it in at build time.

use crate::decimal::Decimal;
use crate::instrument::InstrumentId;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Venues tickwatch has connectors for.
pub const KNOWN_VENUES: &[&str] = &["binance", "binance-usdm", "okx", "bybit"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Symbols {
    /// Asset renames applied before anything else (`XBT: BTC`).
    #[serde(default)]
    pub asset_aliases: BTreeMap<String, String>,
    pub aliases: Vec<SymbolAlias>,
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
        Ok(())
    }
}
