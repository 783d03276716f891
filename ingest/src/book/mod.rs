//! A local order book and what a venue's sync rules report about it.

mod set;
mod sync;

pub use set::{BookSet, SyncedBook};
pub use sync::{Loss, SyncEvent, SyncStats};

use std::collections::BTreeMap;
use std::fmt;
use tickwatch_model::Decimal;

/// One price level as the venue sent it: the exact strings are kept because checksums (OKX)
/// are computed over them and the replay prints them back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub price: Decimal,
    pub size: Decimal,
    pub price_text: Box<str>,
    pub size_text: Box<str>,
}

/// A venue's level that is not a pair of exact decimals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("level [{price}, {size}]: {why}")]
pub struct LevelError {
    pub price: String,
    pub size: String,
    pub why: String,
}

impl Level {
    pub fn parse(price: &str, size: &str) -> Result<Level, LevelError> {
        let (p, s) = Level::numbers(price, size)?;
        Ok(Level { price: p, size: s, price_text: price.into(), size_text: size.into() })
    }

    /// [`Level::parse`] keeping the strings themselves as the level's texts (no copies).
    pub fn parse_owned(price: String, size: String) -> Result<Level, LevelError> {
        let (p, s) = Level::numbers(&price, &size)?;
        Ok(Level { price: p, size: s, price_text: price.into_boxed_str(), size_text: size.into_boxed_str() })
    }

    fn numbers(price: &str, size: &str) -> Result<(Decimal, Decimal), LevelError> {
        let err = |why: String| LevelError { price: price.into(), size: size.into(), why };
        let p: Decimal = price.parse().map_err(|e: tickwatch_model::decimal::DecimalError| err(e.to_string()))?;
        let s: Decimal = size.parse().map_err(|e: tickwatch_model::decimal::DecimalError| err(e.to_string()))?;
        if !p.is_positive() {
            return Err(err("price is not above 0".into()));
        }
        if s.is_negative() {
            return Err(err("size is negative".into()));
        }
        Ok((p, s))
    }
}

/// Both sides of a message sent as `[price, size]` pairs, or the first bad level.
pub fn parse_sides(
    bids: &[(String, String)],
    asks: &[(String, String)],
) -> Result<(Vec<Level>, Vec<Level>), LevelError> {
    let side = |raw: &[(String, String)]| raw.iter().map(|(p, s)| Level::parse(p, s)).collect::<Result<Vec<_>, _>>();
    Ok((side(bids)?, side(asks)?))
}

/// [`parse_sides`] of a message that is done with: its strings become the levels' texts.
pub fn take_sides(
    bids: Vec<(String, String)>,
    asks: Vec<(String, String)>,
) -> Result<(Vec<Level>, Vec<Level>), LevelError> {
    let side = |raw: Vec<(String, String)>| {
        raw.into_iter().map(|(p, s)| Level::parse_owned(p, s)).collect::<Result<Vec<_>, _>>()
    };
    Ok((side(bids)?, side(asks)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Bid,
    Ask,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Bid => "bid",
            Side::Ask => "ask",
        })
    }
}

/// Both sides of a book, by exact price. Quantities are absolute; size 0 removes a level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderBook {
    bids: BTreeMap<Decimal, Level>,
    asks: BTreeMap<Decimal, Level>,
}

impl OrderBook {
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Set a level (size 0 removes it).
    pub fn set(&mut self, side: Side, level: Level) {
        let map = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        if level.size.is_positive() {
            map.insert(level.price, level);
        } else {
            map.remove(&level.price);
        }
    }

    /// Apply a message's levels (absolute sizes; 0 removes).
    pub fn update(&mut self, bids: Vec<Level>, asks: Vec<Level>) {
        bids.into_iter().for_each(|l| self.set(Side::Bid, l));
        asks.into_iter().for_each(|l| self.set(Side::Ask, l));
    }

    /// Replace the whole book.
    pub fn reset(&mut self, bids: Vec<Level>, asks: Vec<Level>) {
        self.clear();
        self.update(bids, asks);
    }

    /// Bids, best (highest) first.
    pub fn bids(&self) -> impl Iterator<Item = &Level> {
        self.bids.values().rev()
    }

    /// Asks, best (lowest) first.
    pub fn asks(&self) -> impl Iterator<Item = &Level> {
        self.asks.values()
    }

    pub fn best_bid(&self) -> Option<&Level> {
        self.bids().next()
    }

    pub fn best_ask(&self) -> Option<&Level> {
        self.asks().next()
    }

    pub fn depth(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }

    /// Best bid at or above best ask.
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// `{"bids":[[px,qty],...],"asks":[...]}` with the venue's own strings, best first.
    pub fn to_json(&self) -> serde_json::Value {
        fn side<'a>(levels: impl Iterator<Item = &'a Level>) -> Vec<[&'a str; 2]> {
            levels.map(|l| [&*l.price_text, &*l.size_text]).collect()
        }
        serde_json::json!({ "bids": side(self.bids()), "asks": side(self.asks()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(p: &str, s: &str) -> Level {
        Level::parse(p, s).unwrap()
    }

    #[test]
    fn levels_are_set_replaced_and_removed_by_exact_price() {
        let mut b = OrderBook::default();
        b.reset(vec![lv("100.5", "1"), lv("100.4", "2")], vec![lv("100.6", "3")]);
        b.set(Side::Bid, lv("100.50", "7"));
        assert_eq!(b.best_bid().unwrap().size_text.as_ref(), "7");
        b.set(Side::Bid, lv("100.5000", "0.000"));
        assert_eq!(b.best_bid().unwrap().price_text.as_ref(), "100.4");
        assert!(!b.is_crossed());
        b.set(Side::Bid, lv("101", "1"));
        assert!(b.is_crossed());
        assert_eq!(b.to_json()["asks"], serde_json::json!([["100.6", "3"]]));
        assert!(
            Level::parse("-1", "1").is_err() && Level::parse("1", "-1").is_err() && Level::parse("x", "1").is_err()
        );
    }
}
