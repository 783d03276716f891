//! The seeded market as a stream: one millisecond step at a time, so that a long market (a
//! soak's hour) never has to be held in memory. `Synthetic::events_from` collects the same
//! stream, so a seed gives the same market either way.

use super::{cents, Event, Start, Synthetic};
use std::collections::VecDeque;

pub struct MarketWalk {
    rng: fastrand::Rng,
    mids: Vec<i64>,
    trade_ids: Vec<i64>,
    book_ids: Vec<i64>,
    p_trade: f64,
    p_depth: f64,
    start_ms: i64,
    step: i64,
    /// Steps in all; None: endless.
    steps: Option<i64>,
    ready: VecDeque<Event>,
}

impl MarketWalk {
    /// The market of `s` from `start_ms`, for `s.seconds` (or without end when `endless`).
    pub fn new(s: &Synthetic, start_ms: i64, endless: bool) -> MarketWalk {
        MarketWalk {
            rng: fastrand::Rng::with_seed(s.seed),
            mids: (0..s.instruments).map(|i| 10_000 + 137 * i as i64).collect(),
            trade_ids: vec![0; s.instruments],
            book_ids: vec![0; s.instruments],
            p_trade: s.trades_per_second / 1000.0,
            p_depth: s.depth_per_second / 1000.0,
            start_ms,
            step: 0,
            steps: (!endless).then_some(s.seconds as i64 * 1000),
            ready: VecDeque::new(),
        }
    }

    /// Where each instrument's book starts: 20 levels a side, 0.01 apart.
    pub fn starts(&self) -> Vec<Start> {
        self.mids
            .iter()
            .map(|m| Start {
                bids: (1..=20).map(|k| [cents(m - k), format!("{}", 1 + (m + k) % 50)]).collect(),
                asks: (1..=20).map(|k| [cents(m + k), format!("{}", 1 + (m * k) % 50)]).collect(),
            })
            .collect()
    }

    /// One millisecond: each instrument trades and changes its book at the configured rates.
    fn step(&mut self) {
        let ms = self.start_ms + self.step;
        self.step += 1;
        let rng = &mut self.rng;
        for inst in 0..self.mids.len() {
            if rng.f64() < self.p_trade {
                if rng.u8(..10) == 0 {
                    self.mids[inst] += if rng.bool() { 1 } else { -1 };
                }
                let buy = rng.bool();
                let px = if buy { self.mids[inst] + 1 } else { self.mids[inst] - 1 };
                self.trade_ids[inst] += 1;
                let qty = format!("{}.{:03}", rng.u32(0..5), rng.u32(1..1000));
                self.ready.push_back(Event::Trade { inst, ms, id: self.trade_ids[inst], px: cents(px), qty, buy });
            }
            if rng.f64() < self.p_depth {
                let (n_bids, n_asks) = (rng.usize(1..=3), rng.usize(1..=3));
                let mid = self.mids[inst];
                let mut level = |side: i64| {
                    let px = mid + side * rng.i64(1..=20);
                    let size = if rng.u8(..4) == 0 { "0".to_string() } else { format!("{}", rng.u32(1..80)) };
                    [cents(px), size]
                };
                let bids = (0..n_bids).map(|_| level(-1)).collect();
                let asks = (0..n_asks).map(|_| level(1)).collect();
                self.book_ids[inst] += 1;
                self.ready.push_back(Event::Depth { inst, ms, id: self.book_ids[inst], bids, asks });
            }
        }
    }
}

impl Iterator for MarketWalk {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        while self.ready.is_empty() {
            if self.steps.is_some_and(|n| self.step >= n) {
                return None;
            }
            self.step();
        }
        self.ready.pop_front()
    }
}
