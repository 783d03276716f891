//! PriceSmooth: a reference price per instrument that moves to a new level over a bounded ramp
//! instead of jumping. The state machine, in event time:
//!
//! ```text
//!  EMPTY ──first target──▶ STEADY(p)
//!  STEADY(p), target t:  |t−p|/p ≤ jump_bps  → STEADY(t)                (small moves are followed)
//!                        otherwise           → RAMPING(from p, to t, start T−tick, end start+ramp)
//!  RAMPING, target t:    |t−to|/to > jump_bps → RAMPING(from price, to t, start T−tick, end start+ramp)
//!                                                                       (a new level gets its own ramp)
//!                        t = to               → the same ramp goes on
//!                        otherwise            → RAMPING(from price, to t, start T−tick, same end)
//!                                                                       (drift is tracked, deadline kept)
//!                        T ≥ end              → STEADY(t)
//!  price(T) while RAMPING = from + (to − from)·(T − start)/(end − start), truncated toward `from`
//!  at 18 decimals.
//! ```
//!
//! Ticks come every `tick` of event time. The target at tick T is the median of the last trade
//! price of each venue whose last trade is at most `max_age` older than T (the mean of the two
//! middle ones for an even count, halves rounded to even). A tick without a fresh venue emits
//! nothing and changes no state, but ramps keep their end times. So a new level is reached at
//! most `ramp` after the tick that first saw it, and the price never moves by more than
//! |to − from|·tick/ramp per tick while ramping.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tickwatch_model::{Decimal, SmoothState};

/// The settings PriceSmooth runs with (µs and bps).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothParams {
    pub tick_us: i64,
    pub ramp_us: i64,
    pub max_age_us: i64,
    pub jump_bps: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Machine {
    Empty,
    Steady { price: Decimal },
    Ramping { from: Decimal, to: Decimal, start_us: i64, end_us: i64, price: Decimal },
}

/// One instrument's PriceSmooth, as persisted (schema [`STATE_SCHEMA`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Smooth {
    /// Per venue: its last trade price and event time.
    pub latest: BTreeMap<String, (Decimal, i64)>,
    pub machine: Machine,
    /// The last tick processed (ticks at or before it are never redone).
    pub last_tick_us: i64,
    /// Ticks emitted so far.
    pub version: i64,
}

pub const STATE_SCHEMA: u32 = 1;

/// What one tick emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub tick_us: i64,
    pub price: Decimal,
    pub target: Decimal,
    pub state: SmoothState,
    pub ramp_end_us: Option<i64>,
    pub sources: i32,
    pub version: i64,
}

/// |a − b| / b > bps (exactly, in integers).
fn beyond(a: Decimal, b: Decimal, bps: i64) -> bool {
    let diff = (a.units() - b.units()).unsigned_abs();
    let base = b.units().unsigned_abs();
    // diff·10000 > base·bps; beyond 10^34 units (prices near Decimal's limit) the same
    // comparison is made on quotients.
    match (diff.checked_mul(10_000), base.checked_mul(bps as u128)) {
        (Some(l), Some(r)) => l > r,
        _ => diff / (bps.max(1) as u128) > base / 10_000,
    }
}

/// from + (to − from)·elapsed/span, truncated toward `from`.
fn interpolate(from: Decimal, to: Decimal, elapsed: i64, span: i64) -> Decimal {
    let (elapsed, span) = (elapsed.clamp(0, span) as i128, span.max(1) as i128);
    let d = to.units() - from.units();
    let step = (d / span) * elapsed + (d % span) * elapsed / span;
    Decimal::from_units(from.units() + step)
}

/// Median of the prices, halves rounded to even units.
fn median(mut prices: Vec<Decimal>) -> Option<Decimal> {
    prices.sort();
    let n = prices.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        return Some(prices[n / 2]);
    }
    let sum = prices[n / 2 - 1].units() + prices[n / 2].units();
    let half = sum.div_euclid(2);
    let rounded = if sum.rem_euclid(2) == 1 && half % 2 != 0 { half + 1 } else { half };
    Some(Decimal::from_units(rounded))
}

impl Smooth {
    pub fn new() -> Smooth {
        Smooth { latest: BTreeMap::new(), machine: Machine::Empty, last_tick_us: i64::MIN, version: 0 }
    }

    /// A trade at event time `t_us`: first every tick before it is processed (each sees only
    /// trades at or before its time), then the venue's last price moves on.
    pub fn on_trade(&mut self, p: &SmoothParams, venue: &str, price: Decimal, t_us: i64, out: &mut Vec<Tick>) {
        self.advance_to(p, t_us - 1, out);
        let entry = self.latest.entry(venue.to_string()).or_insert((price, t_us));
        if t_us >= entry.1 {
            *entry = (price, t_us);
        }
    }

    /// Process every tick up to `until_us` (inclusive).
    pub fn advance_to(&mut self, p: &SmoothParams, until_us: i64, out: &mut Vec<Tick>) {
        let last_tick = until_us.div_euclid(p.tick_us) * p.tick_us;
        if self.last_tick_us == i64::MIN {
            // The first tick is the one after the first trade.
            self.last_tick_us = match self.latest.values().map(|v| v.1).min() {
                Some(first) => first.div_euclid(p.tick_us) * p.tick_us,
                None => return,
            };
        }
        // Ticks after every venue went stale emit nothing: skip straight past them.
        let newest = self.latest.values().map(|v| v.1).max().unwrap_or(i64::MIN);
        let mut tick = self.last_tick_us + p.tick_us;
        if newest != i64::MIN && tick < last_tick && tick - newest > p.max_age_us {
            tick = last_tick.min((newest + p.max_age_us).div_euclid(p.tick_us) * p.tick_us + p.tick_us);
        }
        while tick <= last_tick {
            if let Some(t) = self.tick(p, tick) {
                out.push(t);
            }
            self.last_tick_us = tick;
            tick += p.tick_us;
        }
    }

    fn tick(&mut self, p: &SmoothParams, at: i64) -> Option<Tick> {
        let fresh: Vec<Decimal> =
            self.latest.values().filter(|(_, t)| *t <= at && at - *t <= p.max_age_us).map(|(px, _)| *px).collect();
        let sources = fresh.len() as i32;
        let target = median(fresh)?;
        let start = at - p.tick_us;
        self.machine = match self.machine.clone() {
            Machine::Empty => Machine::Steady { price: target },
            Machine::Steady { price } if !beyond(target, price, p.jump_bps) => Machine::Steady { price: target },
            Machine::Steady { price } => ramp(price, target, start, start + p.ramp_us, at),
            Machine::Ramping { from, to, start_us, end_us, price } => {
                let end = if beyond(target, to, p.jump_bps) { start + p.ramp_us } else { end_us };
                if at >= end {
                    Machine::Steady { price: target }
                } else if target == to && end == end_us {
                    // The same ramp goes on (exactly linear from its start).
                    ramp(from, to, start_us, end, at)
                } else {
                    ramp(price, target, start, end, at)
                }
            }
        };
        self.version += 1;
        let (price, state, ramp_end_us) = match &self.machine {
            Machine::Steady { price } => (*price, SmoothState::Steady, None),
            Machine::Ramping { price, end_us, .. } => (*price, SmoothState::Ramping, Some(*end_us)),
            Machine::Empty => unreachable!("a target was found"),
        };
        Some(Tick { tick_us: at, price, target, state, ramp_end_us, sources, version: self.version })
    }
}

impl Default for Smooth {
    fn default() -> Self {
        Smooth::new()
    }
}

fn ramp(from: Decimal, to: Decimal, start: i64, end: i64, at: i64) -> Machine {
    let price = interpolate(from, to, at - start, end - start);
    Machine::Ramping { from, to, start_us: start, end_us: end, price }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(interpolate(d("100"), d("101"), 1, 3).to_string(), "100.333333333333333333");
        assert_eq!(interpolate(d("101"), d("100"), 1, 3).to_string(), "100.666666666666666667");
        assert_eq!(interpolate(d("100"), d("101"), 5, 3), d("101"), "clamped at the end");
        assert_eq!(median(vec![d("3"), d("1"), d("2")]), Some(d("2")));
        assert_eq!(median(vec![d("1"), d("2")]).unwrap().to_string(), "1.5");
        // 0.000000000000000001 + 0.000000000000000002 = 3 units → 1.5 units → 2 (even).
        assert_eq!(median(vec![d("0.000000000000000001"), d("0.000000000000000002")]).unwrap().units(), 2);
        assert!(beyond(d("100.11"), d("100"), 10) && !beyond(d("100.1"), d("100"), 10));
    }
}
