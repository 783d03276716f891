//! The hot values: the latest trade, reference prices, book top, spread, divergence,
//! PriceSmooth and alert state per series, in memory. Seeded from ClickHouse at start
//! (`seed`), then kept current by following the clean topics (`follow`). Each slot keeps
//! the value with the newest event time, so a record read twice or late never moves it back.

pub mod follow;
pub mod seed;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::RwLock;
use tickwatch_model::{Alert, BookTop, Decimal, ReferencePrice, Signal, SmoothPrice, Trade};

/// One latest value and the event time (µs) it is ordered by.
#[derive(Debug, Clone)]
struct Slot {
    at_us: i64,
    value: Value,
}

type Key = Vec<String>;

#[derive(Default)]
struct Maps {
    trades: HashMap<Key, Slot>,
    /// Per (venue, instrument) and field (mark_price, index_price, funding_rate).
    reference: HashMap<Key, HashMap<&'static str, Slot>>,
    book_tops: HashMap<Key, Slot>,
    spreads: HashMap<Key, Slot>,
    divergence: HashMap<Key, Slot>,
    smooth: HashMap<Key, Slot>,
    alerts: HashMap<Key, Slot>,
}

/// What `/latest` answers for one venue and instrument.
#[derive(Debug, Clone, Default)]
pub struct Latest {
    pub trade: Option<Value>,
    pub reference: Option<Value>,
    pub book_top: Option<Value>,
}

#[derive(Default)]
pub struct HotState {
    maps: RwLock<Maps>,
}

fn upsert(map: &mut HashMap<Key, Slot>, key: Key, at_us: i64, value: Value) {
    match map.get(&key) {
        Some(s) if s.at_us > at_us => {}
        _ => {
            map.insert(key, Slot { at_us, value });
        }
    }
}

pub fn ms(us: i64) -> i64 {
    us.div_euclid(1_000)
}

/// The enum's name as ClickHouse's Enum8 columns spell it (`BUY`, `STEADY`, `P1`, `FIRING`).
fn upper(e: &impl std::fmt::Debug) -> String {
    format!("{e:?}").to_ascii_uppercase()
}

fn dec(d: &Option<Decimal>) -> Value {
    d.as_ref().map_or(Value::Null, |d| json!(d.to_string()))
}

impl HotState {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(|p| p.into_inner())
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        self.maps.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn put_trade(&self, venue: &str, instrument: &str, at_us: i64, value: Value) {
        upsert(&mut self.write().trades, vec![venue.into(), instrument.into()], at_us, value);
    }

    /// One reference field (`mark_price`, `index_price`, `funding_rate`); each keeps its own
    /// newest value, as the venues send them on separate channels.
    pub fn put_reference(&self, venue: &str, instrument: &str, field: &'static str, at_us: i64, value: Value) {
        let mut maps = self.write();
        let fields = maps.reference.entry(vec![venue.into(), instrument.into()]).or_default();
        match fields.get(field) {
            Some(s) if s.at_us > at_us => {}
            _ => {
                fields.insert(field, Slot { at_us, value });
            }
        }
    }

    pub fn put_book_top(&self, venue: &str, instrument: &str, at_us: i64, value: Value) {
        upsert(&mut self.write().book_tops, vec![venue.into(), instrument.into()], at_us, value);
    }

    pub fn put_spread(&self, venue: &str, venue_b: &str, instrument: &str, at_us: i64, value: Value) {
        upsert(&mut self.write().spreads, vec![instrument.into(), venue.into(), venue_b.into()], at_us, value);
    }

    pub fn put_divergence(&self, venue: &str, instrument: &str, at_us: i64, value: Value) {
        upsert(&mut self.write().divergence, vec![instrument.into(), venue.into()], at_us, value);
    }

    pub fn put_smooth(&self, instrument: &str, at_us: i64, value: Value) {
        upsert(&mut self.write().smooth, vec![instrument.into()], at_us, value);
    }

    pub fn put_alert(&self, fingerprint: &str, emitted_at_us: i64, value: Value) {
        upsert(&mut self.write().alerts, vec![fingerprint.into()], emitted_at_us, value);
    }

    // --- from the stream's records ---

    pub fn on_trade(&self, t: &Trade) {
        let v = json!({
            "price": t.price.to_string(), "size": t.size.to_string(), "side": upper(&t.taker_side),
            "trade_id": t.trade_id, "event_time_ms": ms(t.event_time_us), "receive_time_ms": ms(t.receive_time_us),
        });
        self.put_trade(&t.venue, &t.instrument, t.event_time_us, v);
    }

    pub fn on_reference(&self, r: &ReferencePrice) {
        for (field, value) in
            [("mark_price", &r.mark_price), ("index_price", &r.index_price), ("funding_rate", &r.funding_rate)]
        {
            if value.is_some() {
                self.put_reference(&r.venue, &r.instrument, field, r.event_time_us, dec(value));
            }
        }
    }

    pub fn on_book_top(&self, b: &BookTop) {
        let v = json!({
            "bid_price": dec(&b.bid_price), "bid_size": dec(&b.bid_size), "ask_price": dec(&b.ask_price),
            "ask_size": dec(&b.ask_size), "imbalance": b.imbalance, "window_start_ms": ms(b.window_start_us),
        });
        self.put_book_top(&b.venue, &b.instrument, b.window_start_us, v);
    }

    pub fn on_signal(&self, s: &Signal) {
        match (s.kind.as_str(), &s.venue_b) {
            ("spread", Some(b)) => {
                let v = json!({"venue": s.venue, "venue_b": b, "instrument": s.instrument, "value": s.value, "unit": s.unit, "at_ms": ms(s.at_us)});
                self.put_spread(&s.venue, b, &s.instrument, s.at_us, v);
            }
            ("divergence", _) => {
                let v = json!({"venue": s.venue, "instrument": s.instrument, "value": s.value, "unit": s.unit, "at_ms": ms(s.at_us)});
                self.put_divergence(&s.venue, &s.instrument, s.at_us, v);
            }
            _ => {}
        }
    }

    pub fn on_smooth(&self, p: &SmoothPrice) {
        let v = json!({
            "instrument": p.instrument, "tick_ms": ms(p.tick_us), "price": p.price.to_string(),
            "target": p.target.to_string(), "state": upper(&p.state), "ramp_end_ms": p.ramp_end_us.map(ms),
            "sources": p.sources,
        });
        self.put_smooth(&p.instrument, p.tick_us, v);
    }

    pub fn on_alert(&self, a: &Alert) {
        let v = json!({
            "fingerprint": a.fingerprint, "rule": a.rule, "severity": upper(&a.severity),
            "state": upper(&a.state),
            "venue": a.venue, "instrument": a.instrument, "value": a.value, "threshold": a.threshold,
            "summary": a.summary, "labels": a.labels, "started_at_ms": ms(a.started_at_us),
            "emitted_at_ms": ms(a.emitted_at_us),
        });
        self.put_alert(&a.fingerprint, a.emitted_at_us, v);
    }

    // --- reads ---

    pub fn latest(&self, venue: &str, instrument: &str) -> Latest {
        let maps = self.read();
        let key = vec![venue.to_string(), instrument.to_string()];
        let reference = maps.reference.get(&key).map(|fields| {
            let mut v = json!({"mark_price": null, "index_price": null, "funding_rate": null});
            let mut at = i64::MIN;
            for (field, slot) in fields {
                v[*field] = slot.value.clone();
                at = at.max(slot.at_us);
            }
            v["event_time_ms"] = json!(ms(at));
            v
        });
        Latest {
            trade: maps.trades.get(&key).map(|s| s.value.clone()),
            reference,
            book_top: maps.book_tops.get(&key).map(|s| s.value.clone()),
        }
    }

    /// Latest spreads whose (instrument, venue, venue_b) pass `keep`, in key order.
    pub fn spreads(&self, keep: impl Fn(&[String]) -> bool) -> Vec<Value> {
        sorted(&self.read().spreads, keep)
    }

    pub fn divergence(&self, keep: impl Fn(&[String]) -> bool) -> Vec<Value> {
        sorted(&self.read().divergence, keep)
    }

    pub fn smooth(&self, keep: impl Fn(&[String]) -> bool) -> Vec<Value> {
        sorted(&self.read().smooth, keep)
    }

    /// The alerts whose latest state is FIRING, newest first.
    pub fn firing(&self) -> Vec<Value> {
        let maps = self.read();
        let mut out: Vec<&Slot> = maps.alerts.values().filter(|s| s.value["state"] == "FIRING").collect();
        out.sort_by(|a, b| {
            b.at_us.cmp(&a.at_us).then_with(|| a.value["fingerprint"].as_str().cmp(&b.value["fingerprint"].as_str()))
        });
        out.into_iter().map(|s| s.value.clone()).collect()
    }

    /// How many series each map holds (for the log line after seeding).
    pub fn sizes(&self) -> [usize; 7] {
        let m = self.read();
        [
            m.trades.len(),
            m.reference.len(),
            m.book_tops.len(),
            m.spreads.len(),
            m.divergence.len(),
            m.smooth.len(),
            m.alerts.len(),
        ]
    }
}

fn sorted(map: &HashMap<Key, Slot>, keep: impl Fn(&[String]) -> bool) -> Vec<Value> {
    let mut out: Vec<(&Key, &Slot)> = map.iter().filter(|(k, _)| keep(k)).collect();
    out.sort_by(|a, b| a.0.cmp(b.0));
    out.into_iter().map(|(_, s)| s.value.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_value_never_replaces_a_newer_one() {
        let hot = HotState::default();
        hot.put_trade("okx", "BTC-USDT", 2_000, json!({"price": "2"}));
        hot.put_trade("okx", "BTC-USDT", 1_000, json!({"price": "1"}));
        assert_eq!(hot.latest("okx", "BTC-USDT").trade.unwrap()["price"], "2");
        hot.put_reference("okx", "BTC-USDT", "mark_price", 5_000, json!("10"));
        hot.put_reference("okx", "BTC-USDT", "index_price", 3_000, json!("9"));
        hot.put_reference("okx", "BTC-USDT", "mark_price", 4_000, json!("8"));
        let r = hot.latest("okx", "BTC-USDT").reference.unwrap();
        assert_eq!((r["mark_price"].as_str(), r["index_price"].as_str()), (Some("10"), Some("9")));
        assert_eq!(r["event_time_ms"], 5);
        assert!(hot.latest("okx", "ETH-USDT").trade.is_none());
    }

    #[test]
    fn firing_lists_only_alerts_whose_last_state_fires() {
        let hot = HotState::default();
        hot.put_alert("a", 1, json!({"fingerprint": "a", "state": "FIRING"}));
        hot.put_alert("b", 2, json!({"fingerprint": "b", "state": "FIRING"}));
        hot.put_alert("a", 3, json!({"fingerprint": "a", "state": "RESOLVED"}));
        let f = hot.firing();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0]["fingerprint"], "b");
    }
}
