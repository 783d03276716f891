//! `raw.trades` → `trades`: canonical instrument, base units, lag, and the trade rules.

use crate::listing::ListingBook;
use crate::reason::QuarantineReason;
use crate::rules::{self, Rejection, RuleConfig};
use std::collections::HashMap;
use tickwatch_model::time::source_lag_ms;
use tickwatch_model::{Decimal, RawTrade, Trade};

/// Normalizes trades of one input partition, remembering each instrument's last good price.
pub struct TradeNormalizer {
    listings: ListingBook,
    rules: RuleConfig,
    last_good: HashMap<String, Decimal>,
}

impl TradeNormalizer {
    pub fn new(listings: ListingBook, rules: RuleConfig) -> TradeNormalizer {
        TradeNormalizer { listings, rules, last_good: HashMap::new() }
    }

    /// `broker_time_ms` is the record's broker timestamp (the transform's clock).
    pub fn normalize(&mut self, raw: &RawTrade, broker_time_ms: i64) -> Result<Trade, Rejection> {
        let listing = self.listings.require(&raw.venue, &raw.symbol)?;
        rules::positive_price(raw.price)?;
        rules::positive_size(raw.size)?;
        rules::timely(raw.event_time_us, broker_time_ms, &self.rules)?;
        let size = raw.size.checked_mul(listing.contract_size).ok_or_else(|| {
            Rejection::new(
                QuarantineReason::Inexact,
                "contract_size/v1",
                format!("size {} × contract size {} is not exact at 18 places", raw.size, listing.contract_size),
            )
        })?;
        match self.last_good.get_mut(&listing.canonical) {
            Some(last) => {
                rules::no_jump(raw.price, Some(*last), &self.rules)?;
                *last = raw.price;
            }
            // The key is copied once per instrument, not once per trade.
            None => {
                self.last_good.insert(listing.canonical.clone(), raw.price);
            }
        }
        Ok(Trade {
            venue: raw.venue.clone(),
            instrument: listing.canonical.clone(),
            base: listing.id.base.clone(),
            quote: listing.id.quote.clone(),
            kind: listing.kind(),
            expiry_us: listing.expiry_us(),
            venue_symbol: raw.symbol.clone(),
            trade_id: raw.trade_id.clone(),
            price: raw.price,
            size,
            taker_side: raw.taker_side,
            event_time_us: raw.event_time_us,
            receive_time_us: raw.receive_time_us,
            source_lag_ms: source_lag_ms(raw.event_time_us, raw.receive_time_us),
            sequence: raw.sequence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwatch_model::{InstrumentKind, TakerSide};

    const NOW_MS: i64 = 1_652_400_000_000;

    fn raw(venue: &str, symbol: &str, price: &str, size: &str) -> RawTrade {
        RawTrade {
            venue: venue.into(),
            market: "swap".into(),
            symbol: symbol.into(),
            trade_id: "1".into(),
            price: price.parse().unwrap(),
            size: size.parse().unwrap(),
            taker_side: TakerSide::Sell,
            event_time_us: NOW_MS * 1000 - 2_500,
            receive_time_us: NOW_MS * 1000,
            sequence: None,
        }
    }

    fn normalizer() -> TradeNormalizer {
        TradeNormalizer::new(ListingBook::baked(), RuleConfig::default())
    }

    #[test]
    fn okx_swap_contracts_become_base_units() {
        let t = normalizer().normalize(&raw("okx", "BTC-USDT-SWAP", "29123.4", "12"), NOW_MS).unwrap();
        assert_eq!(t.instrument, "BTC-USDT-PERP");
        assert_eq!((t.base.as_str(), t.quote.as_str(), t.kind), ("BTC", "USDT", InstrumentKind::Perp));
        assert_eq!(t.size.to_string(), "0.12");
        assert_eq!(t.price.to_string(), "29123.4");
        assert_eq!(t.source_lag_ms, 2);
        assert_eq!(t.venue_symbol, "BTC-USDT-SWAP");
    }

    #[test]
    fn each_rule_has_its_reason() {
        let mut n = normalizer();
        let code = |n: &mut TradeNormalizer, r: RawTrade| n.normalize(&r, NOW_MS).unwrap_err().reason;
        assert_eq!(code(&mut n, raw("okx", "NOPE-SWAP", "1", "1")), QuarantineReason::UnknownInstrument);
        assert_eq!(code(&mut n, raw("okx", "BTC-USDT-SWAP", "0", "1")), QuarantineReason::PriceNotPositive);
        assert_eq!(code(&mut n, raw("okx", "BTC-USDT-SWAP", "1", "-2")), QuarantineReason::SizeNotPositive);
        let mut future = raw("okx", "BTC-USDT-SWAP", "1", "1");
        future.event_time_us = (NOW_MS + 60_000) * 1000;
        assert_eq!(code(&mut n, future), QuarantineReason::FutureTimestamp);
        let mut old = raw("okx", "BTC-USDT-SWAP", "1", "1");
        old.event_time_us = (NOW_MS - 2 * 86_400_000) * 1000;
        assert_eq!(code(&mut n, old), QuarantineReason::StaleTimestamp);
        assert_eq!(code(&mut n, raw("okx", "BTC-USDT-SWAP", "1", "0.000000000000000001")), QuarantineReason::Inexact);
        // A good price, then one 50 % away: refused, and the good price stays the reference.
        assert!(n.normalize(&raw("okx", "BTC-USDT-SWAP", "30000", "1"), NOW_MS).is_ok());
        assert_eq!(code(&mut n, raw("okx", "BTC-USDT-SWAP", "45000", "1")), QuarantineReason::PriceJump);
        assert!(n.normalize(&raw("okx", "BTC-USDT-SWAP", "30100", "1"), NOW_MS).is_ok());
        // The reference is per canonical instrument, shared across venues.
        assert_eq!(code(&mut n, raw("bybit", "BTCUSDT", "45000", "1")), QuarantineReason::PriceJump);
        assert!(n.normalize(&raw("bybit", "BTCUSDT", "30050", "1"), NOW_MS).is_ok());
    }
}
