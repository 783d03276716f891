//! Venue symbol → canonical instrument, and DEX pool → pair, from `config/symbols.yaml`
//! (baked into the build; the `TW_SYMBOLS` transform variable adds or replaces entries).

use crate::dex::pool::Pool;
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

/// All listings, by venue and then venue symbol (two maps, so a lookup borrows its `&str`s
/// instead of building an owned pair for every record), and all pools, by (chain id,
/// lowercase address).
#[derive(Debug, Clone, Default)]
pub struct ListingBook {
    by_symbol: HashMap<String, HashMap<String, Listing>>,
    pools: HashMap<(i64, String), Pool>,
}

/// The transform variable whose YAML (the shape of `symbols.yaml`, usually in flow style)
/// adds entries to the baked file or replaces those with the same (venue, symbol) or
/// (chain id, address).
pub const SYMBOLS_VAR: &str = "TW_SYMBOLS";

/// The symbols file as it was when this crate was built.
pub const BAKED_SYMBOLS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/symbols.yaml"));

impl ListingBook {
    pub fn from_yaml(text: &str) -> Result<ListingBook, ListingError> {
        ListingBook::from_symbols(parse(text)?)
    }

    /// The baked file with the entries of `overrides` (see [`SYMBOLS_VAR`]) merged in.
    pub fn with_overrides(text: &str, overrides: &str) -> Result<ListingBook, ListingError> {
        let mut symbols = parse(text)?;
        let extra = parse(overrides).map_err(|e| ListingError::Parse(format!("{SYMBOLS_VAR}: {e}")))?;
        symbols.asset_aliases.extend(extra.asset_aliases);
        for a in extra.aliases {
            symbols.aliases.retain(|b| (&b.venue, &b.symbol) != (&a.venue, &a.symbol));
            symbols.aliases.push(a);
        }
        for p in extra.pools {
            symbols.pools.retain(|q| q.chain_id != p.chain_id || !q.address.eq_ignore_ascii_case(&p.address));
            symbols.pools.push(p);
        }
        ListingBook::from_symbols(symbols)
    }

    fn from_symbols(symbols: Symbols) -> Result<ListingBook, ListingError> {
        symbols.validate().map_err(|e| ListingError::Invalid { field: e.field, message: e.message })?;
        let rename = |asset: &str| symbols.asset_aliases.get(asset).cloned().unwrap_or_else(|| asset.to_string());
        let mut by_symbol: HashMap<String, HashMap<String, Listing>> = HashMap::new();
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
            by_symbol.entry(a.venue.clone()).or_default().insert(a.symbol.clone(), listing);
        }
        let pools = symbols.pools.iter().map(|p| ((p.chain_id, p.address.to_ascii_lowercase()), Pool::new(p, &rename)));
        Ok(ListingBook { by_symbol, pools: pools.collect() })
    }

    /// The listings baked in at build time.
    pub fn baked() -> ListingBook {
        ListingBook::from_yaml(BAKED_SYMBOLS).expect("config/symbols.yaml is checked by the test suite")
    }

    /// The baked listings, with the [`SYMBOLS_VAR`] entries from `vars` if it is set.
    pub fn baked_with_vars<'a>(
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ListingBook, ListingError> {
        match vars.into_iter().find(|(k, _)| *k == SYMBOLS_VAR) {
            Some((_, extra)) => ListingBook::with_overrides(BAKED_SYMBOLS, extra),
            None => Ok(ListingBook::baked()),
        }
    }

    /// The pool at `address` (any case) on chain `chain_id`.
    pub fn pool(&self, chain_id: i64, address: &str) -> Option<&Pool> {
        self.pools.get(&(chain_id, address.to_ascii_lowercase()))
    }

    pub fn get(&self, venue: &str, symbol: &str) -> Option<&Listing> {
        self.by_symbol.get(venue)?.get(symbol)
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
        self.by_symbol.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_symbol.is_empty()
    }
}

fn parse(text: &str) -> Result<Symbols, ListingError> {
    serde_yaml::from_str(text).map_err(|e| ListingError::Parse(e.to_string()))
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
    fn the_variable_adds_and_replaces_entries() {
        let extra = "{aliases: [{venue: okx, symbol: SOL-USDT, instrument: SOL-USDT, price_precision: 2, size_precision: 6}, \
                     {venue: okx, symbol: BTC-USDT-SWAP, instrument: BTC-USDT-PERP, contract_size: '0.001', price_precision: 1, size_precision: 2}]}";
        let book = ListingBook::baked_with_vars([("OTHER", "x"), (SYMBOLS_VAR, extra)]).unwrap();
        assert_eq!(book.get("okx", "SOL-USDT").unwrap().canonical, "SOL-USDT");
        assert_eq!(book.get("okx", "BTC-USDT-SWAP").unwrap().contract_size.to_string(), "0.001");
        assert_eq!(book.len(), ListingBook::baked().len() + 1);
        let pool = "{pools: [{chain: ethereum, chain_id: 1, address: '0x88E6A0C2DDD26FEEB64F039A2C41296FCB3F5640', protocol: uniswap_v3, \
                    token0: {symbol: USDC, decimals: 6}, token1: {symbol: ETH, decimals: 18}, base: token1}]}";
        let book = ListingBook::baked_with_vars([(SYMBOLS_VAR, pool)]).unwrap();
        assert_eq!(book.pool(1, "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640").unwrap().instrument, "ETH-USDC");
        let err = ListingBook::baked_with_vars([(SYMBOLS_VAR, "{aliases: [{venue: okx}]}")]).unwrap_err().to_string();
        assert!(err.contains(SYMBOLS_VAR), "{err}");
    }

    #[test]
    fn pools_are_checked() {
        let pool = |fields: &str| {
            format!("pools:\n  - {{chain: ethereum, chain_id: 1, {fields}, token0: {{symbol: USDC, decimals: 6}}, token1: {{symbol: WETH, decimals: 18}}, base: token1}}\n")
        };
        let ok = pool("address: '0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640', protocol: uniswap_v3");
        assert_eq!(
            ListingBook::from_yaml(&ok)
                .unwrap()
                .pool(1, "0x88E6A0C2DDD26FEEB64F039A2C41296FCB3F5640")
                .unwrap()
                .instrument,
            "WETH-USDC"
        );
        let err = ListingBook::from_yaml(&pool("address: '0x88e6', protocol: uniswap_v3")).unwrap_err().to_string();
        assert!(err.contains("pools[0].address"), "{err}");
        let err =
            ListingBook::from_yaml(&pool("address: '0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640', protocol: sushi"))
                .unwrap_err()
                .to_string();
        assert!(err.contains("pools[0].protocol") && err.contains("uniswap_v2"), "{err}");
    }

    #[test]
    fn a_bad_file_names_the_field() {
        let yaml = "aliases:\n  - {venue: kraken, symbol: X, instrument: A-B, price_precision: 1, size_precision: 0}\n";
        let err = ListingBook::from_yaml(yaml).unwrap_err().to_string();
        assert!(err.contains("aliases[0].venue") && err.contains("kraken"), "{err}");
    }
}
