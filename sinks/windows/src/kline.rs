//! One bar's accumulator: open and close by event time then trade id, high, low, volume,
//! quote volume (exact Σ price × size), VWAP, trade count and the taker-buy volumes.

use std::cmp::Ordering;
use tickwatch_model::{Decimal, Kline, KlineVerification, Notional, TakerSide, Trade};

/// A trade id as the venues send them: numbers compare as numbers (Binance, OKX), other ids
/// (Bybit's UUIDs) as text, numbers before text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TradeId {
    Num(u64),
    Text(Box<str>),
}

impl TradeId {
    pub fn new(id: &str) -> TradeId {
        match id.parse::<u64>() {
            Ok(n) if !id.starts_with('0') || id == "0" => TradeId::Num(n),
            _ => TradeId::Text(id.into()),
        }
    }
}

impl std::fmt::Display for TradeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TradeId::Num(n) => write!(f, "{n}"),
            TradeId::Text(t) => f.write_str(t),
        }
    }
}

impl Ord for TradeId {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (TradeId::Num(a), TradeId::Num(b)) => a.cmp(b),
            (TradeId::Text(a), TradeId::Text(b)) => a.cmp(b),
            (TradeId::Num(_), TradeId::Text(_)) => Ordering::Less,
            (TradeId::Text(_), TradeId::Num(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for TradeId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Where a trade stands in its window: event time, then trade id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub event_us: i64,
    pub id: TradeId,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} of the {interval} bar at {open_us} µs does not fit decimal(38, 18)")]
pub struct Overflow {
    pub what: &'static str,
    pub interval: String,
    pub open_us: i64,
}

/// A bar being built.
#[derive(Debug, Clone)]
pub struct KlineWindow {
    open: (Position, Decimal),
    close: (Position, Decimal),
    high: Decimal,
    low: Decimal,
    volume: i128,
    notional: Notional,
    taker_buy_volume: i128,
    taker_buy_notional: Notional,
    count: i64,
}

impl KlineWindow {
    pub fn new(at: Position, t: &Trade) -> KlineWindow {
        let mut w = KlineWindow {
            open: (at.clone(), t.price),
            close: (at, t.price),
            high: t.price,
            low: t.price,
            volume: 0,
            notional: Notional::default(),
            taker_buy_volume: 0,
            taker_buy_notional: Notional::default(),
            count: 0,
        };
        w.sums(t);
        w
    }

    fn sums(&mut self, t: &Trade) {
        self.volume += t.size.units();
        self.notional.add_product(t.price, t.size);
        if t.taker_side == TakerSide::Buy {
            self.taker_buy_volume += t.size.units();
            self.taker_buy_notional.add_product(t.price, t.size);
        }
        self.count += 1;
    }

    pub fn add(&mut self, at: &Position, t: &Trade) {
        if *at < self.open.0 {
            self.open = (at.clone(), t.price);
        }
        if *at > self.close.0 {
            self.close = (at.clone(), t.price);
        }
        self.high = self.high.max(t.price);
        self.low = self.low.min(t.price);
        self.sums(t);
    }

    /// The event time of its first trade (which window of a longer interval it belongs to).
    pub fn first_event_us(&self) -> i64 {
        self.open.0.event_us
    }

    /// Fold another window of the same or a finer interval into this one.
    pub fn merge(&mut self, other: &KlineWindow) {
        if other.open.0 < self.open.0 {
            self.open = other.open.clone();
        }
        if other.close.0 > self.close.0 {
            self.close = other.close.clone();
        }
        self.high = self.high.max(other.high);
        self.low = self.low.min(other.low);
        self.volume += other.volume;
        self.notional.add(other.notional);
        self.taker_buy_volume += other.taker_buy_volume;
        self.taker_buy_notional.add(other.taker_buy_notional);
        self.count += other.count;
    }

    /// The bar as published.
    pub fn kline(
        &self,
        venue: &str,
        instrument: &str,
        interval: &crate::config::Interval,
        open_us: i64,
        version: i64,
        emitted_at_us: i64,
    ) -> Result<Kline, Overflow> {
        let over = |what| Overflow { what, interval: interval.name.clone(), open_us };
        let fits = |units: i128, what| {
            (units.unsigned_abs() < 10u128.pow(38)).then(|| Decimal::from_units(units)).ok_or_else(|| over(what))
        };
        let volume = fits(self.volume, "volume")?;
        Ok(Kline {
            venue: venue.into(),
            instrument: instrument.into(),
            interval: interval.name.clone(),
            open_time_us: open_us,
            close_time_us: open_us + interval.micros,
            open: self.open.1,
            high: self.high,
            low: self.low,
            close: self.close.1,
            volume,
            quote_volume: self.notional.to_decimal().ok_or_else(|| over("quote volume"))?,
            // All sizes zero (a venue's zero-size print): no volume to weigh by, the close.
            vwap: if volume.is_positive() {
                self.notional.divided_by(volume).ok_or_else(|| over("vwap"))?
            } else {
                self.close.1
            },
            trade_count: self.count,
            taker_buy_volume: fits(self.taker_buy_volume, "taker buy volume")?,
            taker_buy_quote_volume: self
                .taker_buy_notional
                .to_decimal()
                .ok_or_else(|| over("taker buy quote volume"))?,
            first_trade_id: self.open.0.id.to_string(),
            last_trade_id: self.close.0.id.to_string(),
            version,
            verification: KlineVerification::Unverified,
            emitted_at_us,
        })
    }
}
