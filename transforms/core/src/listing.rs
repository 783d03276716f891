//! Venue symbol → canonical instrument, from `config/symbols.yaml` (baked into the build).

use std::collections::HashMap;
use tickwatch_model::symbols::Symbols;
use tickwatch_model::{Decimal, InstrumentId, InstrumentKind};

/// What a venue symbol is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub id: InstrumentId,
    /// `id` as text, computed once.
    pub canonical: String,
    /// Base units per contract.
    pub contract_size: Decimal,
    pub price_precision: u32,
    pub size_precision: u32,
}

impl Listing {
    pub fn kind(&self) -> InstrumentKind {
        self.id.kind
    }

    /// Midnight UTC of the expiry date, for futures.
    pub fn expiry_us(&self) -> Option<i64> {
        self.id.expiry.map(|e| e.to_unix_micros())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("symbols file: {0}")]
    Parse(String),
    #[error("symbols file: field `{field}`: {message}")]
    Invalid { field: String, message: String },
}

/// All listings, by (venue, venue symbol).
#[derive(Debug, Clone, Default)]
pub struct ListingBook {
    by_symbol: HashMap<(String, String), Listing>,
}

/// The symbols file as it was when this crate was built.
pub const BAKED_SYMBOLS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/symbols.yaml"));

impl ListingBook {
    pub fn from_yaml(text: &str) -> Result<ListingBook, ListingError> {
        let symbols: Symbols = serde_yaml::from_str(text).map_err(|e| ListingError::Parse(e.to_string()))?;
        symbols.validate().map_err(|e| ListingError::Invalid { field: e.field, message: e.message })?;
        let rename = |asset: &str| symbols.asset_aliases.get(asset).cloned().unwrap_or_else(|| asset.to_string());
        let mut by_symbol = HashMap::new();
        for a in &symbols.aliases {
            let mut id: InstrumentId = a.instrument.parse().expect("validated above");
            id.base = rename(&id.base);
            id.quote = rename(&id.quote);
            let listing = Listing {
                canonical: id.to_string(),
                id,
                contract_size: a.contract_size,
                price_precision: a.price_precision,
                size_precision: a.size_precision,
            };
            by_symbol.insert((a.venue.clone(), a.symbol.clone()), listing);
        }
        Ok(ListingBook { by_symbol })
    }

    /// The listings baked in at build time.
    pub fn baked() -> ListingBook {
        ListingBook::from_yaml(BAKED_SYMBOLS).expect("config/symbols.yaml is checked by the test suite")
    }

    pub fn get(&self, venue: &str, symbol: &str) -> Option<&Listing> {
        // Allocation-free lookup would need a borrowed key type; symbols are short.
        self.by_symbol.get(&(venue.to_string(), symbol.to_string()))
    }

    /// The listing, or the `unknown_instrument` rejection every normalizer gives.
    pub fn require(&self, venue: &str, symbol: &str) -> Result<&Listing, crate::rules::Rejection> {
        self.get(venue, symbol).ok_or_else(|| {
            crate::rules::Rejection::new(
                crate::reason::QuarantineReason::UnknownInstrument,
                "known_instrument/v1",
                format!("{venue} {symbol} is not in symbols.yaml"),
            )
        })
    }

    pub fn len(&self) -> usize {
        self.by_symbol.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_symbol.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baked_file_maps_venue_spellings_to_one_id() {
        let book = ListingBook::baked();
        assert!(!book.is_empty());
        let okx = book.get("okx", "BTC-USDT-SWAP").unwrap();
        let bybit = book.get("bybit", "BTCUSDT").unwrap();
        let usdm = book.get("binance-usdm", "BTCUSDT").unwrap();
        assert_eq!(okx.canonical, "BTC-USDT-PERP");
        assert_eq!(bybit.canonical, okx.canonical);
        assert_eq!(usdm.canonical, okx.canonical);
        assert_eq!(okx.contract_size.to_string(), "0.01");
        assert_eq!(book.get("binance", "BTCUSDT").unwrap().canonical, "BTC-USDT");
        let fut = book.get("okx", "BTC-USD-220527").unwrap();
        assert_eq!(fut.kind(), InstrumentKind::Future);
        assert_eq!(fut.expiry_us(), Some(1_653_609_600_000_000));
        assert!(book.get("binance", "NOPEUSDT").is_none());
    }

    #[test]
    fn asset_aliases_apply() {
        let yaml = "asset_aliases: {XBT: BTC}\naliases:\n  - {venue: bybit, symbol: XBTUSD, instrument: XBT-USD-PERP, price_precision: 1, size_precision: 0}\n";
        let book = ListingBook::from_yaml(yaml).unwrap();
        assert_eq!(book.get("bybit", "XBTUSD").unwrap().canonical, "BTC-USD-PERP");
    }

    #[test]
    fn a_bad_file_names_the_field() {
        let yaml = "aliases:\n  - {venue: kraken, symbol: X, instrument: A-B, price_precision: 1, size_precision: 0}\n";
        let err = ListingBook::from_yaml(yaml).unwrap_err().to_string();
        assert!(err.contains("aliases[0].venue") && err.contains("kraken"), "{err}");
    }
}
