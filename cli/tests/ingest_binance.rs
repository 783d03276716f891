//! `tickwatch ingest` against `tickwatch fake-venue` replaying the real Binance USD-M
//! recording, publishing to the real broker with the real registry: every trade arrives
//! exactly, the published depth stream rebuilds (by Binance's own rules) the very book the
//! venue ends with, and injected disconnects, garbage and dropped frames are detected,
//! healed and counted in `/metrics`, which the stack's Prometheus scrapes.

use rdkafka::consumer::BaseConsumer;
use std::time::{Duration, Instant};
use tickwatch_ingest::binance::messages::{DepthSnapshot, DepthUpdate};
use tickwatch_ingest::binance::{BinanceBook, Market};
use tickwatch_model::BookUpdateKind;
use tickwatch_testkit::prometheus::{wait_for_value, ScrapeTarget};
use tickwatch_testkit::{fixtures, stack};

mod common;

use common::{log_tail, metric, reader, scenario, Published, Scenario};

const SYMBOL: &str = "SUSHIUSDT";

const SETTINGS: &str =
    "channels: [trades, depth]\ninstruments: [SUSHI-USDT-PERP]\nsnapshot_depth: 1000\nsnapshot_check_period: 2s";

/// The fake Binance USD-M and an ingestor of SUSHI-USDT-PERP.
async fn usdm(name: &str, faults: &[&str]) -> Option<Scenario> {
    scenario(name, "binance-usdm", "binance_usdm", SETTINGS, faults).await
}

/// The book the published depth stream builds by Binance's rules, and its gap count.
fn rebuild(seen: &Published) -> (BinanceBook, u64) {
    let mut book = BinanceBook::new(Market::UsdM);
    let mut gaps = 0;
    let side =
        |l: &[tickwatch_model::PriceLevel]| l.iter().map(|l| (l.price.to_string(), l.size.to_string())).collect();
    for r in &seen.depth {
        let events = match r.update_kind {
            BookUpdateKind::Snapshot => book.on_snapshot(&DepthSnapshot {
                last_update_id: r.last_update_id,
                bids: side(&r.bids),
                asks: side(&r.asks),
            }),
            BookUpdateKind::Delta => vec![book.on_update(DepthUpdate::from_raw(r))],
        };
        gaps += events.iter().filter(|e| e.breaks_book()).count() as u64;
    }
    (book, gaps)
}

/// The fake venue's current book, from its REST depth endpoint.
async fn venue_book(rest: &str) -> serde_json::Value {
    reqwest::get(format!("{rest}/fapi/v1/depth?symbol={SYMBOL}&limit=1000")).await.unwrap().json().await.unwrap()
}

/// Equal in the top 100 levels of each side: a snapshot holds at most 1000 levels, so below
/// that the venue can know levels a client never saw (as Binance's own notes say).
fn same_book(ours: &BinanceBook, venue: &serde_json::Value) -> bool {
    const TOP: usize = 100;
    let dec = |v: &serde_json::Value| -> Vec<(tickwatch_model::Decimal, tickwatch_model::Decimal)> {
        let levels = v.as_array().unwrap().iter().take(TOP);
        levels.map(|l| (l[0].as_str().unwrap().parse().unwrap(), l[1].as_str().unwrap().parse().unwrap())).collect()
    };
    let mine = |it: &mut dyn Iterator<Item = &tickwatch_ingest::book::Level>| {
        it.take(TOP).map(|l| (l.price, l.size)).collect::<Vec<_>>()
    };
    ours.last_id() == venue["lastUpdateId"].as_i64()
        && mine(&mut ours.book().bids()) == dec(&venue["bids"])
        && mine(&mut ours.book().asks()) == dec(&venue["asks"])
}

fn recorded_trades(dir: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(dir.join("binance_usdm/ws_combined_stream_recording.jsonl")).unwrap();
    text.lines().filter(|l| l.starts_with("{\"stream\":\"sushiusdt@aggTrade\"")).count()
}

/// Wait until the published depth rebuilds the venue's final book.
async fn until_in_sync(c: &BaseConsumer, seen: &mut Published, rest: &str, prefix: &str) -> BinanceBook {
    let deadline = Instant::now() + Duration::from_secs(90);
    let final_id = final_id();
    loop {
        seen.poll(c, Duration::from_millis(500));
        let (book, _) = rebuild(seen);
        let venue = venue_book(rest).await;
        if same_book(&book, &venue) && venue["lastUpdateId"].as_i64() == Some(final_id) {
            return book;
        }
        assert!(
            Instant::now() < deadline,
            "published depth never rebuilt the venue's book: ours at {:?}, venue at {}; {} depth records read, {} snapshots; ingest log:\n{}",
            book.last_id(),
            venue["lastUpdateId"],
            seen.depth.len(),
            seen.depth.iter().filter(|d| d.update_kind == BookUpdateKind::Snapshot).count(),
            log_tail(prefix)
        );
    }
}

/// The `u` of the recording's last SUSHIUSDT diff.
fn final_id() -> i64 {
    let dir = fixtures().unwrap();
    let text = std::fs::read_to_string(dir.join("binance_usdm/depth_diff_100ms_SUSHIUSDT.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    last["data"]["u"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_session_publishes_every_trade_and_the_venues_book() {
    // Bound whole: the guards in it keep the fake and the ingestor running.
    let Some(sc) = usdm("ing", &[]).await else { return };
    let (dir, prefix, rest, port) = (&sc.dir, &sc.prefix, &sc.rest, sc.port);
    let c = reader(prefix);
    let mut seen = Published::default();
    let book = until_in_sync(&c, &mut seen, rest, prefix).await;
    let recorded = recorded_trades(dir);
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.trades.len() < recorded && Instant::now() < deadline {
        seen.poll(&c, Duration::from_millis(500));
    }
    // Every recorded trade, once, exact.
    assert_eq!(seen.trades.len(), recorded);
    let first = &seen.trades[0];
    assert_eq!(
        (first.venue.as_str(), first.market.as_str(), first.symbol.as_str()),
        ("binance-usdm", "linear", SYMBOL)
    );
    assert_eq!(
        (first.trade_id.as_str(), first.price.to_string(), first.size.to_string()),
        ("87353230", "7.612".into(), "297".into())
    );
    assert!(first.receive_time_us > first.event_time_us);
    // One snapshot, no gap, and the book Binance's own replay gives.
    let (_, gaps) = rebuild(&seen);
    assert_eq!(gaps, 0);
    assert_eq!(seen.depth.iter().filter(|d| d.update_kind == BookUpdateKind::Snapshot).count(), 1);
    assert!(!book.book().is_crossed());
    assert_eq!(
        metric(
            port,
            "collector_in_msgs_total{venue=\"binance-usdm\",instrument=\"SUSHI-USDT-PERP\",channel=\"trades\"}"
        )
        .await,
        seen.trades.len() as u64
    );
    assert_eq!(metric(port, "ws_reconnects_total").await, 0);
    assert_eq!(metric(port, "book_sequence_gaps_total").await, 0);
    // Every 2 s the book is compared with the venue's REST snapshot: equal, never diverged.
    let checks = "book_checks_total{venue=\"binance-usdm\",instrument=\"SUSHI-USDT-PERP\"";
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(port, &format!("{checks},result=\"same\"}}")).await == 0 {
        assert!(Instant::now() < deadline, "no REST book check came out equal");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(metric(port, &format!("{checks},result=\"diverged\"}}")).await, 0);
    // The stack's Prometheus scrapes the same figures.
    let _target = ScrapeTarget::add(stack(), prefix, &format!("127.0.0.1:{port}"));
    let promql = format!(
        "collector_in_msgs_total{{instance_name=\"{prefix}\",venue=\"binance-usdm\",instrument=\"SUSHI-USDT-PERP\",channel=\"depth\"}}"
    );
    let scraped = wait_for_value(stack(), &promql, 30).await;
    let direct = metric(
        port,
        "collector_in_msgs_total{venue=\"binance-usdm\",instrument=\"SUSHI-USDT-PERP\",channel=\"depth\"}",
    )
    .await;
    assert_eq!(scraped as u64, direct);
    assert!(direct > 200, "{direct} depth messages");
}

#[tokio::test(flavor = "multi_thread")]
async fn disconnects_and_garbage_are_healed_and_counted() {
    let faults = ["--disconnect-after", "60", "--garbage-every", "25"];
    let Some(sc) = usdm("ingf", &faults).await else { return };
    let (prefix, rest, port) = (&sc.prefix, &sc.rest, sc.port);
    let c = reader(prefix);
    let mut seen = Published::default();
    until_in_sync(&c, &mut seen, rest, prefix).await;
    let reconnects = metric(port, "ws_reconnects_total").await;
    assert!(reconnects >= 2, "{reconnects} reconnects");
    // Each connection gets a fresh snapshot: the book is rebuilt after every reconnect.
    let snapshots = seen.depth.iter().filter(|d| d.update_kind == BookUpdateKind::Snapshot).count() as u64;
    assert!(snapshots > reconnects.min(snapshots - 1), "{snapshots} snapshots for {reconnects} reconnects");
    assert_eq!(metric(port, "book_resyncs_total").await, snapshots);
    assert!(metric(port, "ws_garbage_frames_total{venue=\"binance-usdm\",kind=\"not_json\"}").await >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_diff_is_a_counted_gap_and_a_resync() {
    let Some(sc) = usdm("ingd", &["--drop-every", "45"]).await else { return };
    let port = sc.port;
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(port, "book_resyncs_total").await < 2 {
        assert!(Instant::now() < deadline, "no resync after the dropped frames");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let gaps = metric(
        port,
        "book_sequence_gaps_total{venue=\"binance-usdm\",instrument=\"SUSHI-USDT-PERP\",loss=\"unknown\"}",
    )
    .await;
    assert!(gaps >= 1, "{gaps} gaps");
    assert!(metric(port, "book_resyncs_total").await >= gaps);
}
