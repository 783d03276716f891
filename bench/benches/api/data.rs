//! What the benchmark puts in before it measures: the hot values on this run's topics, a
//! 100-level book, and the seeded day of 1m k-lines.

use crate::server::get;
use crate::{BARS, DAY_MS, INSTRUMENT, MINUTE_MS, VENUE};
use serde_json::Value;
use std::time::{Duration, Instant};
use tickwatch_model::{AvroRecord, BookTop, Decimal, InstrumentKind, Signal, TakerSide, Trade};
use tickwatch_runtime::broker::ReliableProducer;
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::hot_book::{self, HotBook};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_testkit::produce::send_records;

/// A trade, a 1s book top and a spread signal of binance BTC-USDT, now, on this run's topics.
pub async fn publish_hot(topic_prefix: &str) {
    let stack = tickwatch_testkit::stack();
    let b = stack.broker();
    let registry = RegistryClient::new(&stack.settings.registry.url);
    let producer = ReliableProducer::new(&b).expect("a producer");
    let id = |topic: &str, schema: &'static str| {
        let (registry, subject) = (registry.clone(), format!("{topic_prefix}{topic}-value"));
        // The stack restarts its registry when the debug `tickwatch` was rebuilt, and a
        // long-lived stack's registry takes minutes to read its log back: wait for it.
        async move {
            let deadline = Instant::now() + Duration::from_secs(900);
            let mut attempt = 0u64;
            loop {
                attempt += 1;
                match registry.register(&subject, schema).await {
                    Ok(id) => return id,
                    Err(e) if Instant::now() < deadline => {
                        if attempt % 30 == 1 {
                            eprintln!("  waiting for the schema registry: {e}");
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => panic!("{subject} does not register: {e}"),
                }
            }
        }
    };
    let now = tickwatch_runtime::produce::now_us();
    let dec = |s: &str| -> Decimal { s.parse().expect("a decimal") };
    let trade = Trade {
        venue: VENUE.into(),
        instrument: INSTRUMENT.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: "BTCUSDT".into(),
        trade_id: "5000000001".into(),
        price: dec("91500.01"),
        size: dec("0.01234"),
        taker_side: TakerSide::Buy,
        event_time_us: now,
        receive_time_us: now + 2_000,
        source_lag_ms: 2,
        sequence: None,
    };
    let top = BookTop {
        venue: VENUE.into(),
        instrument: INSTRUMENT.into(),
        interval: "1s".into(),
        window_start_us: now / 1_000_000 * 1_000_000 - 1_000_000,
        window_end_us: now / 1_000_000 * 1_000_000,
        last_update_id: 1_000_000,
        updates: 42,
        bid_price: Some(dec("91499.99")),
        bid_size: Some(dec("1.5")),
        ask_price: Some(dec("91500.01")),
        ask_size: Some(dec("0.75")),
        depth_levels: 20,
        bid_depth: dec("31.25"),
        ask_depth: dec("28.5"),
        imbalance: Some(0.0461),
        version: 1,
        emitted_at_us: now,
    };
    let spread = Signal {
        kind: "spread".into(),
        venue: VENUE.into(),
        venue_b: Some("okx".into()),
        instrument: INSTRUMENT.into(),
        channel: None,
        interval: None,
        value: 1.25,
        unit: "bps".into(),
        at_us: now,
        emitted_at_us: now,
    };
    let topic = |t: &str| format!("{topic_prefix}{t}");
    send_records(&producer, &topic("trades"), id("trades", Trade::SCHEMA_JSON).await, by_instrument, &[trade]).await;
    send_records(&producer, &topic("book.1s"), id("book.1s", BookTop::SCHEMA_JSON).await, by_instrument, &[top]).await;
    send_records(&producer, &topic("signals"), id("signals", Signal::SCHEMA_JSON).await, by_instrument, &[spread])
        .await;
}

fn by_instrument<T>(_: &T) -> String {
    INSTRUMENT.to_string()
}

/// Wait until the API shows the published trade, book top and spread.
pub async fn wait_hot(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, latest) = get(http, &format!("{base}/api/v1/latest?venue={VENUE}&instrument={INSTRUMENT}")).await;
        let (_, spreads) = get(http, &format!("{base}/api/v1/spreads?instrument={INSTRUMENT}")).await;
        let (latest, spreads): (Value, Value) =
            (serde_json::from_str(&latest).unwrap_or_default(), serde_json::from_str(&spreads).unwrap_or_default());
        let item = &latest["items"][0];
        if item["trade"].is_object() && item["book_top"].is_object() && spreads["items"][0].is_object() {
            return;
        }
        assert!(Instant::now() < deadline, "the API did not show the published values: {latest} {spreads}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A 100-level book around the day's prices (2-place prices, 5-place sizes).
pub fn book() -> HotBook {
    let now_ms = tickwatch_runtime::produce::now_us() / 1_000;
    let level = |i: i64, side: i64| {
        [fixed((9_150_000 + side * (1 + i * 3)).into(), 2), fixed((10_000 + i * 7_919 % 90_000).into(), 5)]
    };
    HotBook {
        bids: (0..hot_book::LEVELS as i64).map(|i| level(i, -1)).collect(),
        asks: (0..hot_book::LEVELS as i64).map(|i| level(i, 1)).collect(),
        last_update_id: 1_000_000,
        at_ms: now_ms,
        written_ms: now_ms,
    }
}

/// One seeded 1m bar: prices in cents (2 places, as binance BTC-USDT), sizes in 1e-5.
pub struct Bar {
    open_ms: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: i64,
    vwap: i64,
    taker_buy_volume: i64,
    trade_count: i64,
    first_trade_id: i64,
}

/// A seeded random walk through the day, the same every run.
pub fn bars() -> Vec<Bar> {
    let mut rng = fastrand::Rng::with_seed(20260107);
    let mut close = 9_150_000i64;
    let mut trade_id = 5_000_000_000i64;
    (0..BARS)
        .map(|i| {
            let open = close;
            close = open + rng.i64(-4_000..=4_000);
            let high = open.max(close) + rng.i64(0..=2_500);
            let low = open.min(close) - rng.i64(0..=2_500);
            let volume = rng.i64(1_000_000..=80_000_000);
            let trade_count = rng.i64(500..=6_000);
            let bar = Bar {
                open_ms: DAY_MS + i as i64 * MINUTE_MS,
                open,
                high,
                low,
                close,
                volume,
                vwap: rng.i64(low..=high),
                taker_buy_volume: rng.i64(0..=volume),
                trade_count,
                first_trade_id: trade_id,
            };
            trade_id += trade_count;
            bar
        })
        .collect()
}

/// `units` × 10^-`scale` as a plain decimal.
fn fixed(units: i128, scale: u32) -> String {
    let p = 10i128.pow(scale);
    let sign = if units < 0 { "-" } else { "" };
    format!("{sign}{}.{:0width$}", units.abs() / p, units.abs() % p, width = scale as usize)
}

/// `2026-01-07 00:01:00.000` for a time within the day or at its end.
fn datetime(ms: i64) -> String {
    let s = (ms - DAY_MS) / 1_000;
    format!("2026-01-{:02} {:02}:{:02}:{:02}.000", 7 + s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60)
}

impl Bar {
    fn quote_volume(&self) -> String {
        fixed(i128::from(self.vwap) * i128::from(self.volume), 7)
    }

    fn values(&self) -> String {
        let close_ms = self.open_ms + MINUTE_MS;
        format!(
            "('{VENUE}', '{INSTRUMENT}', '1m', '{}', '{}', {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, '{}', '{}', 1, 'VERIFIED', '{}')",
            datetime(self.open_ms),
            datetime(close_ms),
            fixed(self.open.into(), 2),
            fixed(self.high.into(), 2),
            fixed(self.low.into(), 2),
            fixed(self.close.into(), 2),
            fixed(self.volume.into(), 5),
            self.quote_volume(),
            fixed(self.vwap.into(), 2),
            self.trade_count,
            fixed(self.taker_buy_volume.into(), 5),
            fixed(i128::from(self.vwap) * i128::from(self.taker_buy_volume), 7),
            self.first_trade_id,
            self.first_trade_id + self.trade_count - 1,
            datetime(close_ms),
        )
    }

    /// The API's item for this bar holds exactly the seeded values.
    pub fn check(&self, item: &Value) {
        let dec = |field: &str| -> Decimal {
            item[field].as_str().unwrap_or_else(|| panic!("{field} is a string in {item}")).parse().expect("a decimal")
        };
        let want = |units: i64, scale: u32| -> Decimal { fixed(units.into(), scale).parse().expect("a decimal") };
        assert_eq!(item["open_time_ms"], self.open_ms, "{item}");
        assert_eq!(item["close_time_ms"], self.open_ms + MINUTE_MS, "{item}");
        assert_eq!(dec("open"), want(self.open, 2), "{item}");
        assert_eq!(dec("high"), want(self.high, 2), "{item}");
        assert_eq!(dec("low"), want(self.low, 2), "{item}");
        assert_eq!(dec("close"), want(self.close, 2), "{item}");
        assert_eq!(dec("volume"), want(self.volume, 5), "{item}");
        assert_eq!(dec("vwap"), want(self.vwap, 2), "{item}");
        assert_eq!(dec("quote_volume"), self.quote_volume().parse::<Decimal>().expect("a decimal"), "{item}");
        assert_eq!(item["trade_count"], self.trade_count, "{item}");
        assert_eq!(item["verification"], "VERIFIED", "{item}");
    }
}

/// Put the day into `klines` unless it is there already (the ReplacingMergeTree keeps one
/// row per bar under FINAL either way). True when it was written now.
pub async fn seed(ch: &ClickHouse, bars: &[Bar]) -> bool {
    let day_end = DAY_MS + BARS as i64 * MINUTE_MS;
    let present = ch
        .query_rows(&format!(
            "SELECT toUnixTimestamp64Milli(open_time) AS t, toString(close) AS close, toString(volume) AS volume, \
             trade_count FROM klines FINAL WHERE venue = '{VENUE}' AND instrument = '{INSTRUMENT}' AND interval = '1m' \
             AND open_time >= fromUnixTimestamp64Milli({DAY_MS}) AND open_time < fromUnixTimestamp64Milli({day_end}) \
             ORDER BY open_time"
        ))
        .await
        .expect("read the seeded day");
    let same = present.len() == bars.len()
        && present.iter().zip(bars).all(|(row, bar)| {
            let dec = |f: &str| row[f].as_str().and_then(|s| s.parse::<Decimal>().ok());
            row["t"].as_i64() == Some(bar.open_ms)
                && dec("close") == fixed(bar.close.into(), 2).parse().ok()
                && dec("volume") == fixed(bar.volume.into(), 5).parse().ok()
                && row["trade_count"].as_i64().or_else(|| row["trade_count"].as_str()?.parse().ok())
                    == Some(bar.trade_count)
        });
    if same {
        return false;
    }
    let values: Vec<String> = bars.iter().map(Bar::values).collect();
    ch.execute(&format!(
        "INSERT INTO klines (venue, instrument, interval, open_time, close_time, open, high, low, close, volume, \
         quote_volume, vwap, trade_count, taker_buy_volume, taker_buy_quote_volume, first_trade_id, last_trade_id, \
         version, verification, emitted_at) VALUES {}",
        values.join(", ")
    ))
    .await
    .expect("seed the day of k-lines");
    true
}
