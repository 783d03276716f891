//! Trade ids already taken, to drop repeats. Numeric ids (Binance, OKX, Bybit's sequences)
//! run nearly in order per instrument: a sliding bitmap over the latest ids answers in O(1)
//! with good locality. Other ids (Bybit's UUIDs) go to a hash map pruned by event time.

use crate::kline::TradeId;
use std::collections::{HashMap, VecDeque};

/// Ids kept in the bitmap: 64 × this many (262 144), minutes to hours of any instrument.
const WORDS: usize = 4096;
/// Room left below the first id for trades that arrive before it.
const HEADROOM_WORDS: u64 = 64;

#[derive(Default)]
pub struct SeenIds {
    base: u64,
    bits: VecDeque<u64>,
    text: HashMap<Box<str>, i64>,
    text_pruned_at: usize,
}

impl SeenIds {
    /// Record `id`; true when it was already there. An id below the bitmap's range (older
    /// than the last 262 144) is taken as new: the watermark's horizon judges it.
    pub fn insert(&mut self, id: &TradeId, event_us: i64) -> bool {
        match id {
            TradeId::Num(n) => self.insert_num(*n),
            TradeId::Text(t) => self.text.insert(t.clone(), event_us).is_some(),
        }
    }

    fn insert_num(&mut self, n: u64) -> bool {
        if self.bits.is_empty() {
            self.base = (n / 64).saturating_sub(HEADROOM_WORDS) * 64;
        }
        if n < self.base {
            return false;
        }
        let word = ((n - self.base) / 64) as usize;
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
            while self.bits.len() > WORDS {
                self.bits.pop_front();
                self.base += 64;
            }
        }
        let word = ((n - self.base) / 64) as usize;
        let mask = 1u64 << (n % 64);
        let seen = self.bits[word] & mask != 0;
        self.bits[word] |= mask;
        seen
    }

    /// Forget text ids of events before `oldest_us` (beyond correction anyway).
    pub fn prune(&mut self, oldest_us: i64) {
        if self.text.len() > 2 * self.text_pruned_at.max(1024) {
            self.text.retain(|_, e| *e >= oldest_us);
            self.text_pruned_at = self.text.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_found_in_and_out_of_order() {
        let mut s = SeenIds::default();
        let num = |n| TradeId::Num(n);
        assert!(!s.insert(&num(1_000_000), 0));
        assert!(!s.insert(&num(999_990), 0), "a little older than the first: still in range");
        assert!(s.insert(&num(1_000_000), 0) && s.insert(&num(999_990), 0));
        // Far ahead: the bitmap slides; the newest ids are still found.
        assert!(!s.insert(&num(5_000_000), 0));
        assert!(s.insert(&num(5_000_000), 0));
        assert!(!s.insert(&num(1_000_000), 0), "slid out of range: judged by the horizon instead");
        let uuid = TradeId::new("20f43950-d8dd-5b31-9112-a178eb6023af");
        assert!(!s.insert(&uuid, 10) && s.insert(&uuid, 10));
    }
}
