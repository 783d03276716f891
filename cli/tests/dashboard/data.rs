//! What the dashboard test sends: trades on two venues, mark/index prices, quality minutes, an alert.

use crate::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_model::{
    Alert, AlertSeverity, AlertState, AvroRecord, Decimal, InstrumentKind, QualityMinute, ReferencePrice, TakerSide,
    Trade,
};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::topics::Topics;
use tickwatch_testkit::market::okx_btc_perp_prices;
use tickwatch_testkit::{repo_root, stack};

pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// `cents` as a decimal with two places.
pub fn price(cents: i64) -> Decimal {
    format!("{}.{:02}", cents / 100, cents % 100).parse().unwrap()
}

/// Both venues trading from `t0`: a random walk around 64 000, okx 1 to 4 bps above.
pub fn trades(t0: i64) -> Vec<Trade> {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut cents: i64 = 6_400_000;
    let mut out = Vec::new();
    for step in 0..STEPS {
        cents += rng.i64(-900..=900);
        let t = t0 + step * 250_000;
        for (i, (venue, symbol)) in VENUES.iter().enumerate() {
            let premium = if i == 1 { cents * (10 + step % 30) / 100_000 } else { 0 };
            out.push(Trade {
                venue: venue.to_string(),
                instrument: INSTRUMENT.into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                kind: InstrumentKind::Perp,
                expiry_us: None,
                venue_symbol: symbol.to_string(),
                trade_id: format!("{}", 1_000_000 + step),
                price: price(cents + premium + rng.i64(-200..=200)),
                size: format!("0.{:03}", rng.u32(1..1_000)).parse().unwrap(),
                taker_side: if rng.bool() { TakerSide::Buy } else { TakerSide::Sell },
                event_time_us: t + i as i64 * 1_000,
                receive_time_us: t + 6_000,
                source_lag_ms: 5,
                sequence: None,
            });
        }
    }
    out
}

/// okx's mark and index every second, the mark 5 to 25 bps above the index.
pub fn references(t0: i64) -> Vec<ReferencePrice> {
    (0..MINUTES * 60)
        .map(|s| {
            let index = 6_400_000 + (s % 50) * 100;
            let mark = index + index * (5 + s % 21) / 10_000;
            let prices = okx_btc_perp_prices(Some(price(mark)), Some(price(index)), t0 + s * S + 500_000, 5_000);
            assert_eq!(prices.instrument, INSTRUMENT);
            ReferencePrice { funding_rate: Some("0.0001".parse().unwrap()), ..prices }
        })
        .collect()
}

/// The ingestors' minute figures: 240 trades a minute each; okx reconnected once and lost
/// a few messages in its fourth minute.
pub fn quality(t0: i64) -> Vec<QualityMinute> {
    let mut out = Vec::new();
    for m in 0..MINUTES {
        for (venue, _) in VENUES {
            let bad = venue == "okx" && m == 3;
            out.push(QualityMinute {
                venue: venue.into(),
                instrument: INSTRUMENT.into(),
                channel: "trades".into(),
                minute_us: t0 + m * 60 * S,
                messages: 240,
                gaps: i64::from(bad),
                lost_messages: Some(if bad { 3 } else { 0 }),
                out_of_order: 0,
                duplicates: 0,
                reconnects: i64::from(bad),
                resyncs: 0,
                quarantined: 0,
                max_silence_ms: if bad { 1_800 } else { 250 },
                source_lag_p95_ms: Some(if venue == "okx" { 9.0 } else { 6.0 }),
            });
        }
    }
    out
}

pub fn alert(rule: &str, t0: i64) -> Alert {
    Alert {
        fingerprint: format!("{rule}-okx-{INSTRUMENT}"),
        rule: rule.into(),
        severity: AlertSeverity::P2,
        state: AlertState::Firing,
        venue: Some("okx".into()),
        instrument: Some(INSTRUMENT.into()),
        value: Some(24.0),
        threshold: Some(20.0),
        summary: format!("divergence(okx, {INSTRUMENT}) 24 bps > 20 bps for 30s"),
        labels: [("venue".to_string(), "okx".to_string()), ("instrument".to_string(), INSTRUMENT.to_string())].into(),
        started_at_us: t0 + 5 * 60 * S,
        emitted_at_us: t0 + 5 * 60 * S + 30 * S,
    }
}

/// Produce `recs` in order to partition 0 (healing Tansu's fenced producers).
pub async fn send<T: AvroRecord>(
    producer: &mut ReliableProducer,
    topic: &str,
    id: u32,
    key: impl Fn(&T) -> String,
    recs: &[T],
) {
    tickwatch_testkit::produce::send_records(producer, topic, id, key, recs).await;
}

/// Every declared topic under `prefix`, one partition each, visible in the metadata.
pub async fn create_topics(prefix: &str) {
    let declared = Topics::load(&repo_root().join("config/topics.yaml")).unwrap();
    let specs: Vec<TopicSpec> = declared
        .0
        .iter()
        .filter(|t| !t.name.starts_with('_'))
        .map(|t| TopicSpec { name: format!("{prefix}.{}", t.name), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    broker::create_topics(&stack().broker(), &specs).await.unwrap();
    let c: BaseConsumer = broker::client_config(&stack().broker()).create().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    for spec in &specs {
        while c
            .fetch_metadata(Some(&spec.name), Duration::from_secs(5))
            .map_or(true, |m| m.topics()[0].partitions().is_empty())
        {
            assert!(Instant::now() < deadline, "topic {} never showed up", spec.name);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
