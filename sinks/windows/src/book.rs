//! The book as the clean `depth` topic describes it: a snapshot replaces it, a delta upserts
//! levels (size 0 removes one). The ingestors keep each book in sync by the venue's rules and
//! publish a new snapshot after any break, so here the updates are applied as they come;
//! deltas before the first snapshot have nothing to apply to and are skipped.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use tickwatch_model::{BookUpdate, BookUpdateKind, Decimal, PriceLevel};

#[derive(Debug, Default, Clone)]
pub struct LocalBook {
    bids: BTreeMap<Reverse<Decimal>, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    pub last_update_id: i64,
    /// A snapshot has been applied.
    pub synced: bool,
}

/// The top of a book: best levels and the depth of the top N levels each side.
#[derive(Debug, Clone, PartialEq)]
pub struct Top {
    pub bid: Option<PriceLevel>,
    pub ask: Option<PriceLevel>,
    pub bid_depth: Decimal,
    pub ask_depth: Decimal,
}

impl Top {
    /// (bid − ask) / (bid + ask) over the top-N depths; `None` when both are zero.
    pub fn imbalance(&self) -> Option<f64> {
        let (b, a) = (self.bid_depth.units() as f64, self.ask_depth.units() as f64);
        (b + a > 0.0).then(|| (b - a) / (b + a))
    }
}

impl LocalBook {
    /// Apply an update; `false` when it was a delta before any snapshot (skipped).
    pub fn apply(&mut self, u: &BookUpdate) -> bool {
        match u.update_kind {
            BookUpdateKind::Snapshot => {
                self.bids.clear();
                self.asks.clear();
                self.synced = true;
            }
            BookUpdateKind::Delta if !self.synced => return false,
            BookUpdateKind::Delta => {}
        }
        for l in &u.bids {
            if l.size.is_positive() {
                self.bids.insert(Reverse(l.price), l.size);
            } else {
                self.bids.remove(&Reverse(l.price));
            }
        }
        for l in &u.asks {
            if l.size.is_positive() {
                self.asks.insert(l.price, l.size);
            } else {
                self.asks.remove(&l.price);
            }
        }
        self.last_update_id = u.last_update_id;
        true
    }

    /// The best `n` levels each side as exact `[price, size]` strings, best first.
    pub fn levels(&self, n: usize) -> (Vec<[String; 2]>, Vec<[String; 2]>) {
        let bids = self.bids.iter().take(n).map(|(p, s)| [p.0.to_string(), s.to_string()]).collect();
        let asks = self.asks.iter().take(n).map(|(p, s)| [p.to_string(), s.to_string()]).collect();
        (bids, asks)
    }

    /// Best levels and the summed sizes of the best `levels` levels each side (exact).
    pub fn top(&self, levels: usize) -> Top {
        let sum = |sizes: &mut dyn Iterator<Item = Decimal>| {
            sizes.take(levels).fold(Decimal::ZERO, |acc, s| acc.checked_add(s).unwrap_or(acc))
        };
        Top {
            bid: self.bids.iter().next().map(|(p, s)| PriceLevel { price: p.0, size: *s }),
            ask: self.asks.iter().next().map(|(p, s)| PriceLevel { price: *p, size: *s }),
            bid_depth: sum(&mut self.bids.values().copied()),
            ask_depth: sum(&mut self.asks.values().copied()),
        }
    }
}
