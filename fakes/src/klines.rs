//! What a fake venue's REST k-line endpoint serves: 1-minute bars of every trade in its
//! recording (including the frames a fault keeps from the WebSocket clients, as a real
//! venue's history holds the trades a client missed), for minutes that have closed; and the
//! request limit its REST side enforces when told to.

use crate::timeline::Timeline;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use tickwatch_model::Decimal;

const MINUTE_MS: i64 = 60_000;

/// A recorded trade: its numbers, and its price and size as the venue wrote them (what the
/// REST trade history serves back).
#[derive(Debug, Clone)]
pub struct TapeTrade {
    pub ms: i64,
    /// The venue's trade id (Binance's aggregate id, OKX's `tradeId`; 0 where not a number).
    pub id: i64,
    pub px: Decimal,
    pub qty: Decimal,
    pub px_text: String,
    pub qty_text: String,
    /// The taker bought.
    pub buy: bool,
}

/// Every recorded trade, per venue symbol, in time order.
#[derive(Debug, Default)]
pub struct TradeTape {
    by_symbol: HashMap<String, Vec<TapeTrade>>,
}

/// One closed minute of a symbol's trades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub open_time_ms: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub quote_volume: Decimal,
    pub trades: i64,
    pub taker_buy_volume: Decimal,
    pub taker_buy_quote_volume: Decimal,
}

impl Bar {
    /// `[open time, open, high, low, close, volume]`, every field as text (OKX and Bybit).
    pub fn text_row(&self) -> Vec<Value> {
        let (t, o, h, l, c, v) = (self.open_time_ms, self.open, self.high, self.low, self.close, self.volume);
        [t.to_string(), o.to_string(), h.to_string(), l.to_string(), c.to_string(), v.to_string()]
            .into_iter()
            .map(Value::from)
            .collect()
    }
}

impl TradeTape {
    /// Up to `limit` bars of `[from_ms, to_ms)` that closed by now, newest first (how OKX
    /// and Bybit page).
    pub fn newest_first(&self, symbol: &str, from_ms: i64, to_ms: i64, limit: usize) -> Vec<Bar> {
        let mut bars = self.bars(symbol, from_ms, to_ms, crate::now_ms());
        bars.reverse();
        bars.truncate(limit);
        bars
    }

    /// Record a trade as the venue sent it (decimal strings); one that does not parse is
    /// not a trade the venue could have made and is left out.
    pub fn push(&mut self, symbol: &str, ms: i64, id: i64, (px_text, qty_text): (&str, &str), buy: bool) {
        if let (Ok(px), Ok(qty)) = (px_text.parse(), qty_text.parse()) {
            let (px_text, qty_text) = (px_text.to_string(), qty_text.to_string());
            let t = TapeTrade { ms, id, px, qty, px_text, qty_text, buy };
            self.by_symbol.entry(symbol.to_string()).or_default().push(t);
        }
    }

    /// Every trade of `symbol` made by `now_ms`, in time order (what its trade history holds).
    pub fn trades(&self, symbol: &str, now_ms: i64) -> &[TapeTrade] {
        let all = self.by_symbol.get(symbol).map_or(&[][..], Vec::as_slice);
        &all[..all.partition_point(|t| t.ms <= now_ms)]
    }

    /// Sort each symbol's trades by time (recordings are in arrival order).
    pub fn seal(&mut self) {
        for trades in self.by_symbol.values_mut() {
            trades.sort_by_key(|t| t.ms);
        }
    }

    pub fn has(&self, symbol: &str) -> bool {
        self.by_symbol.contains_key(symbol)
    }

    /// The bars of `symbol` with open times in `[from_ms, to_ms)` that closed by `now_ms`,
    /// oldest first (minutes without a trade have none).
    pub fn bars(&self, symbol: &str, from_ms: i64, to_ms: i64, now_ms: i64) -> Vec<Bar> {
        let Some(trades) = self.by_symbol.get(symbol) else { return Vec::new() };
        let closed_before = now_ms - now_ms.rem_euclid(MINUTE_MS);
        let (from, to) = (from_ms - from_ms.rem_euclid(MINUTE_MS), to_ms.min(closed_before));
        let start = trades.partition_point(|t| t.ms < from);
        let mut bars: Vec<Bar> = Vec::new();
        for t in trades[start..].iter().take_while(|t| t.ms < to) {
            let minute = t.ms - t.ms.rem_euclid(MINUTE_MS);
            let notional = t.px.checked_mul(t.qty).unwrap_or(Decimal::ZERO);
            let add = |a: Decimal, b: Decimal| a.checked_add(b).unwrap_or(a);
            match bars.last_mut() {
                Some(b) if b.open_time_ms == minute => {
                    b.high = b.high.max(t.px);
                    b.low = b.low.min(t.px);
                    b.close = t.px;
                    b.volume = add(b.volume, t.qty);
                    b.quote_volume = add(b.quote_volume, notional);
                    b.trades += 1;
                    if t.buy {
                        b.taker_buy_volume = add(b.taker_buy_volume, t.qty);
                        b.taker_buy_quote_volume = add(b.taker_buy_quote_volume, notional);
                    }
                }
                _ => bars.push(Bar {
                    open_time_ms: minute,
                    open: t.px,
                    high: t.px,
                    low: t.px,
                    close: t.px,
                    volume: t.qty,
                    quote_volume: notional,
                    trades: 1,
                    taker_buy_volume: if t.buy { t.qty } else { Decimal::ZERO },
                    taker_buy_quote_volume: if t.buy { notional } else { Decimal::ZERO },
                }),
            }
        }
        bars.retain(|b| b.open_time_ms >= from_ms);
        bars
    }
}

/// At most `per_second` REST k-line requests in each wall-clock second (0: no limit).
#[derive(Debug, Default)]
pub struct RestLimit {
    per_second: u32,
    window: Mutex<(i64, u32)>,
    refused: std::sync::atomic::AtomicU64,
}

impl RestLimit {
    pub fn new(per_second: u32) -> RestLimit {
        RestLimit { per_second, ..RestLimit::default() }
    }

    /// Whether this request is within the limit; a refusal is counted.
    pub fn admit(&self) -> bool {
        if self.per_second == 0 {
            return true;
        }
        let second = crate::now_ms() / 1000;
        let mut w = self.window.lock().expect("limit lock");
        if w.0 != second {
            *w = (second, 0);
        }
        w.1 += 1;
        let ok = w.1 <= self.per_second;
        if !ok {
            self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        ok
    }

    /// Milliseconds until the current window ends (what a venue's reset header says).
    pub fn reset_at_ms(&self) -> i64 {
        (crate::now_ms() / 1000 + 1) * 1000
    }
}

/// What a fake's REST k-line endpoint serves from: the trade tape and the request limit.
pub struct History {
    pub tape: TradeTape,
    pub limit: RestLimit,
}

impl History {
    /// The tape of `venue`'s recorded trade frames (Binance `aggTrade`/`trade`, OKX
    /// `trades`, Bybit `publicTrade`).
    pub fn of(venue: &str, timeline: &Timeline, per_second: u32) -> History {
        let mut tape = TradeTape::default();
        for f in timeline.frames() {
            let Ok(v) = serde_json::from_str::<Value>(&f.text) else { continue };
            let s = |x: &Value| x.as_str().unwrap_or_default().to_string();
            match venue {
                "okx" if v["arg"]["channel"] == "trades" => {
                    for t in v["data"].as_array().into_iter().flatten() {
                        let (ms, id) = (s(&t["ts"]).parse().unwrap_or(0), s(&t["tradeId"]).parse().unwrap_or(0));
                        tape.push(&s(&t["instId"]), ms, id, (&s(&t["px"]), &s(&t["sz"])), t["side"] == "buy");
                    }
                }
                "bybit" if s(&v["topic"]).starts_with("publicTrade.") => {
                    for t in v["data"].as_array().into_iter().flatten() {
                        let ms = t["T"].as_i64().unwrap_or(0);
                        let id = s(&t["i"]).parse().unwrap_or(0);
                        tape.push(&s(&t["s"]), ms, id, (&s(&t["p"]), &s(&t["v"])), t["S"] == "Buy");
                    }
                }
                "binance" | "binance-usdm" => {
                    let d = if v.get("stream").is_some() { &v["data"] } else { &v };
                    if d["e"] == "aggTrade" || d["e"] == "trade" {
                        // `m`: the buyer is the maker, so the taker sold.
                        let buy = !d["m"].as_bool().unwrap_or(false);
                        let id = d["a"].as_i64().or_else(|| d["t"].as_i64()).unwrap_or(0);
                        let (ms, text) = (d["T"].as_i64().unwrap_or(0), (s(&d["p"]), s(&d["q"])));
                        tape.push(&s(&d["s"]), ms, id, (&text.0, &text.1), buy);
                    }
                }
                _ => {}
            }
        }
        tape.seal();
        History { tape, limit: RestLimit::new(per_second) }
    }
}

/// A query parameter as a number.
pub fn param(q: &HashMap<String, String>, name: &str) -> Option<i64> {
    q.get(name).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_hold_every_trade_of_closed_minutes_exactly() {
        let mut tape = TradeTape::default();
        tape.push("X", 60_500, 2, ("10.5", "1.25"), true);
        tape.push("X", 61_000, 3, ("11", "0.5"), false);
        tape.push("X", 60_100, 1, ("10", "2"), false);
        tape.push("X", 125_000, 4, ("9", "1"), true);
        tape.push("X", 190_000, 5, ("9.000", "1"), true);
        tape.push("X", 1, 6, ("not a price", "1"), true);
        tape.seal();
        let made: Vec<_> = tape.trades("X", 125_000).iter().map(|t| t.id).collect();
        assert_eq!(made, [1, 2, 3, 4], "in time order, none after now");
        assert_eq!(tape.trades("X", 200_000)[4].px_text, "9.000", "the price as the venue wrote it");
        let bars = tape.bars("X", 0, 1_000_000, 180_000);
        assert_eq!(bars.len(), 2, "the minute at 180 000 has not closed");
        let b = &bars[0];
        assert_eq!((b.open_time_ms, b.trades), (60_000, 3));
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!((b.open, b.high, b.low, b.close), (d("10"), d("11"), d("10"), d("11")));
        assert_eq!((b.volume, b.quote_volume), (d("3.75"), d("38.625")));
        assert_eq!((b.taker_buy_volume, b.taker_buy_quote_volume), (d("1.25"), d("13.125")));
        assert_eq!(tape.bars("X", 120_000, 180_000, 10_000_000).len(), 1);
        assert!(tape.bars("Y", 0, 1_000_000, 10_000_000).is_empty());
    }

    #[test]
    fn the_limit_refuses_past_its_count_per_second() {
        let limit = RestLimit::new(3);
        let admitted = (0..10).filter(|_| limit.admit()).count();
        // The ten calls may straddle a second boundary: at most two windows' worth pass.
        assert!((3..=6).contains(&admitted), "{admitted}");
        assert!(RestLimit::new(0).admit());
    }
}
