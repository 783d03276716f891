//! Cross-venue spreads and index/mark divergence: the latest prices per venue, compared as they
//! move. A pair is compared only when both prices are at most `max_age` apart in event time,
//! and each series emits at most once per `every` of event time (its latest value), so a busy
//! market does not flood the signals topic.

use std::collections::{BTreeMap, HashMap};
use tickwatch_model::Decimal;

/// Value of a `Decimal` as f64 (for ratios; stored prices never go through this).
pub fn to_f64(d: Decimal) -> f64 {
    d.units() as f64 / 1e18
}

/// A computed spread or divergence, before it becomes a `Signal`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub venue: String,
    pub venue_b: Option<String>,
    pub instrument: String,
    pub value: f64,
    pub at_us: i64,
}

/// Emits a series at most once per `every` µs of event time.
#[derive(Default)]
struct Throttle {
    last: HashMap<String, i64>,
}

impl Throttle {
    fn due(&mut self, series: &str, at_us: i64, every_us: i64) -> bool {
        match self.last.get(series) {
            Some(last) if at_us < last + every_us => false,
            _ => {
                self.last.insert(series.to_string(), at_us);
                true
            }
        }
    }
}

/// Last price per instrument and venue → spreads between every pair of venues, in bps of the
/// pair's mid: (a − b) / ((a + b) / 2), venues in name order (a < b).
pub struct Spreads {
    every_us: i64,
    max_age_us: i64,
    latest: HashMap<String, BTreeMap<String, (Decimal, i64)>>,
    throttle: Throttle,
}

impl Spreads {
    pub fn new(every_us: i64, max_age_us: i64) -> Spreads {
        Spreads { every_us, max_age_us, latest: HashMap::new(), throttle: Throttle::default() }
    }

    /// A new price of `venue` for `instrument` at `at_us` (a trade or a mid).
    pub fn on_price(&mut self, instrument: &str, venue: &str, price: Decimal, at_us: i64, out: &mut Vec<Reading>) {
        let venues = self.latest.entry(instrument.to_string()).or_default();
        match venues.get(venue) {
            Some((_, t)) if *t > at_us => return, // an older price than the one we have
            _ => venues.insert(venue.to_string(), (price, at_us)),
        };
        for (other, (p_other, t_other)) in venues.iter() {
            if other == venue || (at_us - t_other).abs() > self.max_age_us {
                continue;
            }
            let ((a, pa), (b, pb)) = if venue < other.as_str() {
                ((venue, price), (other.as_str(), *p_other))
            } else {
                ((other.as_str(), *p_other), (venue, price))
            };
            let (fa, fb) = (to_f64(pa), to_f64(pb));
            if fa + fb <= 0.0 {
                continue;
            }
            let series = format!("{instrument}/{a}/{b}");
            if self.throttle.due(&series, at_us, self.every_us) {
                out.push(Reading {
                    venue: a.to_string(),
                    venue_b: Some(b.to_string()),
                    instrument: instrument.to_string(),
                    value: (fa - fb) / ((fa + fb) / 2.0) * 1e4,
                    at_us,
                });
            }
        }
    }
}

/// A price and its event time.
type Stamped = Option<(Decimal, i64)>;

/// Last mark and index per venue and instrument → |index − mark| / index in bps.
pub struct Divergence {
    every_us: i64,
    max_age_us: i64,
    /// (venue, instrument) → (mark, at), (index, at).
    latest: HashMap<(String, String), (Stamped, Stamped)>,
    throttle: Throttle,
}

impl Divergence {
    pub fn new(every_us: i64, max_age_us: i64) -> Divergence {
        Divergence { every_us, max_age_us, latest: HashMap::new(), throttle: Throttle::default() }
    }

    pub fn on_reference(
        &mut self,
        venue: &str,
        instrument: &str,
        mark: Option<Decimal>,
        index: Option<Decimal>,
        at_us: i64,
        out: &mut Vec<Reading>,
    ) {
        let entry = self.latest.entry((venue.to_string(), instrument.to_string())).or_default();
        let newer = |slot: &mut Stamped, v: Option<Decimal>| {
            if let Some(v) = v {
                if slot.is_none_or(|(_, t)| t <= at_us) {
                    *slot = Some((v, at_us));
                }
            }
        };
        newer(&mut entry.0, mark);
        newer(&mut entry.1, index);
        let (Some((m, tm)), Some((i, ti))) = (entry.0, entry.1) else { return };
        if (tm - ti).abs() > self.max_age_us || !i.is_positive() {
            return;
        }
        let at = tm.max(ti);
        if self.throttle.due(&format!("{venue}/{instrument}"), at, self.every_us) {
            let (fm, fi) = (to_f64(m), to_f64(i));
            out.push(Reading {
                venue: venue.to_string(),
                venue_b: None,
                instrument: instrument.to_string(),
                value: (fi - fm).abs() / fi * 1e4,
                at_us: at,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn spreads_pair_fresh_venues_in_name_order_and_throttle_per_pair() {
        let mut s = Spreads::new(1_000_000, 5_000_000);
        let mut out = Vec::new();
        s.on_price("BTC-USDT", "okx", d("100.2"), 0, &mut out);
        assert!(out.is_empty(), "one venue has no spread");
        s.on_price("BTC-USDT", "binance", d("100"), 100_000, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].venue.as_str(), out[0].venue_b.as_deref()), ("binance", Some("okx")));
        assert!((out[0].value - (-0.2 / 100.1 * 1e4)).abs() < 1e-9, "{}", out[0].value);
        s.on_price("BTC-USDT", "binance", d("100.1"), 500_000, &mut out);
        assert_eq!(out.len(), 1, "throttled within the second");
        s.on_price("BTC-USDT", "binance", d("100.1"), 1_100_000, &mut out);
        assert_eq!(out.len(), 2);
        s.on_price("BTC-USDT", "binance", d("100.1"), 9_000_000, &mut out);
        assert_eq!(out.len(), 2, "okx's price is stale");
    }

    #[test]
    fn divergence_needs_both_prices_close_in_time() {
        let mut dv = Divergence::new(1_000_000, 3_000_000);
        let mut out = Vec::new();
        dv.on_reference("okx", "BTC-USDT-PERP", Some(d("99")), None, 0, &mut out);
        assert!(out.is_empty());
        dv.on_reference("okx", "BTC-USDT-PERP", None, Some(d("100")), 1_000_000, &mut out);
        assert_eq!(out.len(), 1);
        assert!((out[0].value - 100.0).abs() < 1e-9);
        dv.on_reference("okx", "BTC-USDT-PERP", None, Some(d("100")), 9_000_000, &mut out);
        assert_eq!(out.len(), 1, "the mark is 9 s old");
    }
}
