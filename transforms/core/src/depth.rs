//! `raw.depth` → `depth`: canonical instrument, base-unit sizes, and the book rules (positive
//! prices, no negative sizes, no level twice in one message, no crossed snapshot).

use crate::listing::{Listing, ListingBook};
use crate::reason::QuarantineReason;
use crate::route::Normalize;
use crate::rules::{self, Rejection, RuleConfig};
use std::collections::HashSet;
use tickwatch_model::time::source_lag_ms;
use tickwatch_model::{BookUpdate, BookUpdateKind, PriceLevel, RawBookUpdate};

pub struct DepthNormalizer {
    listings: ListingBook,
    rules: RuleConfig,
}

impl DepthNormalizer {
    pub fn new(listings: ListingBook, rules: RuleConfig) -> DepthNormalizer {
        DepthNormalizer { listings, rules }
    }
}

/// Check one side and convert its sizes to base units.
fn side(levels: &[PriceLevel], listing: &Listing, snapshot: bool, name: &str) -> Result<Vec<PriceLevel>, Rejection> {
    let mut seen = HashSet::with_capacity(levels.len());
    levels
        .iter()
        .map(|l| {
            rules::positive_price(l.price)?;
            // A delta's size 0 deletes the level; a snapshot lists only resting quantity.
            if l.size.is_negative() || (snapshot && !l.size.is_positive()) {
                return Err(Rejection::new(
                    QuarantineReason::SizeNotPositive,
                    "level_size/v1",
                    format!("{name} level {} has size {}", l.price, l.size),
                ));
            }
            if !seen.insert(l.price) {
                return Err(Rejection::new(
                    QuarantineReason::DuplicateKey,
                    "unique_levels/v1",
                    format!("{name} price {} appears twice in one message", l.price),
                ));
            }
            let size = l.size.checked_mul(listing.contract_size).ok_or_else(|| {
                Rejection::new(
                    QuarantineReason::Inexact,
                    "contract_size/v1",
                    format!("{name} size {} × contract size is not exact", l.size),
                )
            })?;
            Ok(PriceLevel { price: l.price, size })
        })
        .collect()
}

impl Normalize for DepthNormalizer {
    type Raw = RawBookUpdate;
    type Clean = BookUpdate;

    fn normalize(&mut self, raw: &RawBookUpdate, broker_time_ms: i64) -> Result<BookUpdate, Rejection> {
        let listing = self.listings.require(&raw.venue, &raw.symbol)?;
        rules::timely(raw.event_time_us, broker_time_ms, &self.rules)?;
        let snapshot = raw.update_kind == BookUpdateKind::Snapshot;
        let bids = side(&raw.bids, listing, snapshot, "bid")?;
        let asks = side(&raw.asks, listing, snapshot, "ask")?;
        if snapshot {
            let best_bid = bids.iter().map(|l| l.price).max();
            let best_ask = asks.iter().map(|l| l.price).min();
            if let (Some(b), Some(a)) = (best_bid, best_ask) {
                if b >= a {
                    return Err(Rejection::new(
                        QuarantineReason::CrossedBook,
                        "uncrossed_snapshot/v1",
                        format!("best bid {b} is not below best ask {a}"),
                    ));
                }
            }
        }
        Ok(BookUpdate {
            venue: raw.venue.clone(),
            instrument: listing.canonical.clone(),
            base: listing.id.base.clone(),
            quote: listing.id.quote.clone(),
            kind: listing.kind(),
            expiry_us: listing.expiry_us(),
            venue_symbol: raw.symbol.clone(),
            update_kind: raw.update_kind,
            first_update_id: raw.first_update_id,
            last_update_id: raw.last_update_id,
            prev_update_id: raw.prev_update_id,
            checksum: raw.checksum,
            bids,
            asks,
            event_time_us: raw.event_time_us,
            receive_time_us: raw.receive_time_us,
            source_lag_ms: source_lag_ms(raw.event_time_us, raw.receive_time_us),
        })
    }

    fn key(clean: &BookUpdate) -> &str {
        &clean.instrument
    }

    fn venue(raw: &RawBookUpdate) -> Option<&str> {
        Some(&raw.venue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_652_400_000_000;

    fn lv(p: &str, s: &str) -> PriceLevel {
        PriceLevel { price: p.parse().unwrap(), size: s.parse().unwrap() }
    }

    fn raw(kind: BookUpdateKind, bids: Vec<PriceLevel>, asks: Vec<PriceLevel>) -> RawBookUpdate {
        RawBookUpdate {
            venue: "okx".into(),
            market: "swap".into(),
            symbol: "BTC-USDT-SWAP".into(),
            update_kind: kind,
            first_update_id: None,
            last_update_id: 10,
            prev_update_id: Some(9),
            checksum: Some(-1_881_014_294),
            bids,
            asks,
            event_time_us: NOW_MS * 1000,
            receive_time_us: NOW_MS * 1000 + 4_000,
        }
    }

    fn run(r: RawBookUpdate) -> Result<BookUpdate, Rejection> {
        DepthNormalizer::new(ListingBook::baked(), RuleConfig::default()).normalize(&r, NOW_MS)
    }

    #[test]
    fn contracts_become_base_units_and_sequence_fields_stay() {
        let b = run(raw(BookUpdateKind::Snapshot, vec![lv("3366.1", "7")], vec![lv("3366.8", "9")])).unwrap();
        assert_eq!(b.instrument, "BTC-USDT-PERP");
        assert_eq!(b.bids, vec![lv("3366.1", "0.07")]);
        assert_eq!(b.asks, vec![lv("3366.8", "0.09")]);
        assert_eq!((b.last_update_id, b.prev_update_id, b.checksum), (10, Some(9), Some(-1_881_014_294)));
        assert_eq!(b.source_lag_ms, 4);
        // A delta may delete a level with size 0.
        assert!(run(raw(BookUpdateKind::Delta, vec![lv("3366.1", "0")], vec![])).is_ok());
    }

    #[test]
    fn book_rules() {
        let reason = |r| run(r).unwrap_err().reason;
        let crossed = raw(BookUpdateKind::Snapshot, vec![lv("3367", "1")], vec![lv("3366.8", "1")]);
        assert_eq!(reason(crossed), QuarantineReason::CrossedBook);
        // The same prices in a delta are not judged: the book is judged after applying it.
        assert!(run(raw(BookUpdateKind::Delta, vec![lv("3367", "1")], vec![lv("3366.8", "1")])).is_ok());
        let dup = raw(BookUpdateKind::Delta, vec![lv("1", "1"), lv("1.0", "2")], vec![]);
        assert_eq!(reason(dup), QuarantineReason::DuplicateKey);
        assert_eq!(reason(raw(BookUpdateKind::Delta, vec![lv("0", "1")], vec![])), QuarantineReason::PriceNotPositive);
        assert_eq!(reason(raw(BookUpdateKind::Delta, vec![], vec![lv("1", "-1")])), QuarantineReason::SizeNotPositive);
        assert_eq!(
            reason(raw(BookUpdateKind::Snapshot, vec![lv("1", "0")], vec![])),
            QuarantineReason::SizeNotPositive
        );
        let mut unknown = raw(BookUpdateKind::Delta, vec![], vec![]);
        unknown.symbol = "ETH-EUR-SWAP".into();
        assert_eq!(reason(unknown), QuarantineReason::UnknownInstrument);
    }
}
