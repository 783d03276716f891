//! Hot values followed from the topics, and books from the real book worker through Redis.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tickwatch_model::*;
use tickwatch_runtime::broker::{ReliableProducer, TopicSpec};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_testkit::produce::send_records;
use tickwatch_testkit::{stack, unique};

#[tokio::test(flavor = "multi_thread")]
async fn hot_values_follow_the_topics_and_books_come_from_the_book_worker() {
    let _serial = SERIAL.lock().await;
    let prefix = unique("apil");
    let b = stack().broker();
    let specs: Vec<TopicSpec> = TOPICS
        .iter()
        .chain(&["book.5s", "book.1m", "raw.depth.quarantine"])
        .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    create_visible(&specs).await;
    let (_api, base) = api(&prefix, "api", &config(&prefix, "")).await;
    let _book = spawn(
        &prefix,
        "book",
        &[
            "windows",
            "book",
            "--topic-prefix",
            &format!("{prefix}."),
            "--group",
            &format!("{prefix}-book"),
            "--hot-books-prefix",
            &format!("{prefix}:hot:"),
        ],
    );
    let registry = RegistryClient::new(&stack().settings.registry.url);
    let id = |s: &'static str, t: &'static str| {
        let (registry, prefix) = (registry.clone(), prefix.clone());
        async move { registry.register(&format!("{prefix}.{t}-value"), s).await.unwrap() }
    };
    let producer = ReliableProducer::new(&b).unwrap();
    let now = tickwatch_runtime::produce::now_us();
    let trade = Trade {
        venue: "binance".into(),
        instrument: "BTC-USDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: "BTCUSDT".into(),
        trade_id: prefix.clone(),
        price: "64123.123456789012345678".parse().unwrap(),
        size: "0.00012".parse().unwrap(),
        taker_side: TakerSide::Sell,
        event_time_us: now,
        receive_time_us: now + 1_500,
        source_lag_ms: 1,
        sequence: None,
    };
    let older = Trade { trade_id: "older".into(), event_time_us: now - 10_000_000, ..trade.clone() };
    let trades_id = id(Trade::SCHEMA_JSON, "trades").await;
    send_records(&producer, &format!("{prefix}.trades"), trades_id, |t: &Trade| t.instrument.clone(), &[trade, older])
        .await;
    let spread = Signal {
        kind: "spread".into(),
        venue: "binance".into(),
        venue_b: Some("okx".into()),
        instrument: "BTC-USDT".into(),
        channel: None,
        interval: None,
        value: 12.5,
        unit: "bps".into(),
        at_us: now,
        emitted_at_us: now,
    };
    let signals_id = id(Signal::SCHEMA_JSON, "signals").await;
    send_records(&producer, &format!("{prefix}.signals"), signals_id, |s: &Signal| s.instrument.clone(), &[spread])
        .await;
    let alert = |state: AlertState, at: i64| Alert {
        fingerprint: format!("{prefix}/binance/BTC-USDT"),
        rule: prefix.clone(),
        severity: AlertSeverity::P2,
        state,
        venue: Some("binance".into()),
        instrument: Some("BTC-USDT".into()),
        value: Some(12.5),
        threshold: Some(10.0),
        summary: "wide".into(),
        labels: [("venue".to_string(), "binance".to_string())].into(),
        started_at_us: now,
        emitted_at_us: at,
    };
    let alerts_id = id(Alert::SCHEMA_JSON, "alerts").await;
    send_records(
        &producer,
        &format!("{prefix}.alerts"),
        alerts_id,
        |a: &Alert| a.fingerprint.clone(),
        &[alert(AlertState::Firing, now)],
    )
    .await;
    let level = |p: &str, s: &str| PriceLevel { price: p.parse().unwrap(), size: s.parse().unwrap() };
    let snapshot = BookUpdate {
        venue: "okx".into(),
        instrument: "BTC-USDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: "BTC-USDT".into(),
        update_kind: BookUpdateKind::Snapshot,
        first_update_id: None,
        last_update_id: 7,
        prev_update_id: None,
        checksum: None,
        bids: (0..30).map(|i| level(&format!("{}.5", 100 - i), "1.25")).collect(),
        asks: vec![level("101.5", "0.001"), level("102", "3")],
        event_time_us: now,
        receive_time_us: now,
        source_lag_ms: 0,
    };
    let delta = BookUpdate {
        update_kind: BookUpdateKind::Delta,
        last_update_id: 8,
        bids: vec![level("100.5", "0")],
        asks: vec![level("101", "2")],
        event_time_us: now + 1_000,
        ..snapshot.clone()
    };
    let depth_id = id(BookUpdate::SCHEMA_JSON, "depth").await;
    send_records(
        &producer,
        &format!("{prefix}.depth"),
        depth_id,
        |u: &BookUpdate| u.instrument.clone(),
        &[snapshot, delta],
    )
    .await;

    // The latest trade is the newest by event time, exact.
    let until = Instant::now() + Duration::from_secs(60);
    let latest = loop {
        let l = ok(&base, "/api/v1/latest?venue=binance&instrument=BTC-USDT").await;
        if l["items"][0]["trade"]["trade_id"] == json!(prefix) {
            break l;
        }
        assert!(Instant::now() < until, "the followed trade never showed: {l}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let t = &latest["items"][0]["trade"];
    assert_eq!(
        (t["price"].as_str(), t["size"].as_str(), t["side"].as_str()),
        (Some("64123.123456789012345678"), Some("0.00012"), Some("SELL"))
    );
    assert_eq!(t["event_time_ms"].as_i64(), Some(now / 1000));
    assert_eq!(t["receive_time_ms"].as_i64(), Some((now + 1_500) / 1000));
    let spread =
        |v: &Value| v["items"].as_array().unwrap().iter().any(|s| s["value"] == 12.5 && s["at_ms"] == now / 1000);
    eventually(&base, "/api/v1/spreads?instrument=BTC-USDT&venue=okx", spread).await;
    let firing =
        eventually(&base, &format!("/api/v1/alerts?rule={prefix}"), |v| !v["items"].as_array().unwrap().is_empty())
            .await;
    assert_eq!(firing["items"].as_array().unwrap().len(), 1, "{firing}");
    assert_eq!(
        (firing["items"][0]["state"].as_str(), firing["items"][0]["severity"].as_str()),
        (Some("FIRING"), Some("P2"))
    );
    send_records(
        &producer,
        &format!("{prefix}.alerts"),
        alerts_id,
        |a: &Alert| a.fingerprint.clone(),
        &[alert(AlertState::Resolved, now + 1)],
    )
    .await;
    let until = Instant::now() + Duration::from_secs(30);
    while !ok(&base, &format!("/api/v1/alerts?rule={prefix}")).await["items"].as_array().unwrap().is_empty() {
        assert!(Instant::now() < until, "the resolution never showed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The book worker's snapshot + delta, through Redis: best first, exact, `depth` levels.
    let until = Instant::now() + Duration::from_secs(90);
    let book = loop {
        let (status, body) = get(&base, "/api/v1/book?venue=okx&instrument=BTC-USDT&depth=3", None).await;
        if status == StatusCode::OK && body["last_update_id"] == 8 {
            break body;
        }
        assert!(Instant::now() < until, "no book: {status} {body}; see target/test-logs/{prefix}-book.log");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(book["bids"], json!([["99.5", "1.25"], ["98.5", "1.25"], ["97.5", "1.25"]]));
    assert_eq!(book["asks"], json!([["101", "2"], ["101.5", "0.001"], ["102", "3"]]));
    let (status, _) = get(&base, "/api/v1/book?venue=binance&instrument=ETH-USDT", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
