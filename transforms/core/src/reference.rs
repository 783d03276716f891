//! `raw.reference` → `reference`: canonical instrument, and the reference-price rules
//! (mark and index prices positive and without jumps; funding rates may be negative).

use crate::listing::ListingBook;
use crate::reason::QuarantineReason;
use crate::route::Normalize;
use crate::rules::{self, Rejection, RuleConfig};
use std::collections::HashMap;
use tickwatch_model::time::source_lag_ms;
use tickwatch_model::{Decimal, RawReferencePrice, ReferencePrice};

pub struct ReferenceNormalizer {
    listings: ListingBook,
    rules: RuleConfig,
    /// Last good (mark, index) per venue and instrument: venues' indices differ by design.
    last_good: HashMap<(String, String), (Option<Decimal>, Option<Decimal>)>,
}

impl ReferenceNormalizer {
    pub fn new(listings: ListingBook, rules: RuleConfig) -> ReferenceNormalizer {
        ReferenceNormalizer { listings, rules, last_good: HashMap::new() }
    }
}

impl Normalize for ReferenceNormalizer {
    type Raw = RawReferencePrice;
    type Clean = ReferencePrice;

    fn normalize(&mut self, raw: &RawReferencePrice, broker_time_ms: i64) -> Result<ReferencePrice, Rejection> {
        let listing = self.listings.require(&raw.venue, &raw.symbol)?;
        if raw.mark_price.is_none() && raw.index_price.is_none() && raw.funding_rate.is_none() {
            return Err(Rejection::new(
                QuarantineReason::Undecodable,
                "reference_fields/v1",
                "none of mark price, index price or funding rate is present",
            ));
        }
        rules::timely(raw.event_time_us, broker_time_ms, &self.rules)?;
        let key = (raw.venue.clone(), listing.canonical.clone());
        let (last_mark, last_index) = self.last_good.get(&key).copied().unwrap_or_default();
        for (price, last) in [(raw.mark_price, last_mark), (raw.index_price, last_index)] {
            if let Some(p) = price {
                rules::positive_price(p)?;
                rules::no_jump(p, last, &self.rules)?;
            }
        }
        self.last_good.insert(key, (raw.mark_price.or(last_mark), raw.index_price.or(last_index)));
        Ok(ReferencePrice {
            venue: raw.venue.clone(),
            instrument: listing.canonical.clone(),
            base: listing.id.base.clone(),
            quote: listing.id.quote.clone(),
            kind: listing.kind(),
            expiry_us: listing.expiry_us(),
            venue_symbol: raw.symbol.clone(),
            mark_price: raw.mark_price,
            index_price: raw.index_price,
            funding_rate: raw.funding_rate,
            next_funding_time_us: raw.next_funding_time_us,
            event_time_us: raw.event_time_us,
            receive_time_us: raw.receive_time_us,
            source_lag_ms: source_lag_ms(raw.event_time_us, raw.receive_time_us),
        })
    }

    fn key(clean: &ReferencePrice) -> &str {
        &clean.instrument
    }

    fn venue(raw: &RawReferencePrice) -> Option<&str> {
        Some(&raw.venue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_562_305_380_000;

    fn raw(mark: Option<&str>, index: Option<&str>, funding: Option<&str>) -> RawReferencePrice {
        RawReferencePrice {
            venue: "binance-usdm".into(),
            market: "linear".into(),
            symbol: "BTCUSDT".into(),
            mark_price: mark.map(|s| s.parse().unwrap()),
            index_price: index.map(|s| s.parse().unwrap()),
            funding_rate: funding.map(|s| s.parse().unwrap()),
            next_funding_time_us: Some(1_562_306_400_000_000),
            event_time_us: NOW_MS * 1000,
            receive_time_us: NOW_MS * 1000 + 1_500,
        }
    }

    #[test]
    fn marks_indices_and_funding() {
        let mut n = ReferenceNormalizer::new(ListingBook::baked(), RuleConfig::default());
        let r = n.normalize(&raw(Some("11794.15"), Some("11784.62"), Some("-0.00038246")), NOW_MS).unwrap();
        assert_eq!(r.instrument, "BTC-USDT-PERP");
        assert_eq!(r.funding_rate.unwrap().to_string(), "-0.00038246");
        assert_eq!(r.source_lag_ms, 1);
        // A funding-only message keeps the last marks as references.
        assert!(n.normalize(&raw(None, None, Some("0.0001")), NOW_MS).is_ok());
        let reason = |n: &mut ReferenceNormalizer, r| n.normalize(&r, NOW_MS).unwrap_err().reason;
        assert_eq!(reason(&mut n, raw(Some("20000"), None, None)), QuarantineReason::PriceJump);
        assert_eq!(reason(&mut n, raw(None, Some("-1"), None)), QuarantineReason::PriceNotPositive);
        assert_eq!(reason(&mut n, raw(None, None, None)), QuarantineReason::Undecodable);
        assert!(n.normalize(&raw(Some("11800"), Some("11790"), None), NOW_MS).is_ok());
    }
}
