//! `tickwatch ingest` against `tickwatch fake-venue --venue okx|bybit` replaying the real
//! recordings, publishing to the real broker: every OKX trade arrives exactly, the published
//! books rebuild (by each venue's chaining rule) the very books the venue ends with, lost
//! updates are counted gaps healed by subscribing again, and over a hundred forced closes
//! every reconnect resyncs the book; the resync-time P95 is printed.

mod common;

use common::{log_tail, metric, reader, scenario, Published};
use rdkafka::consumer::BaseConsumer;
use std::time::{Duration, Instant};
use tickwatch_ingest::book::{Level, OrderBook};
use tickwatch_model::{BookUpdateKind, Decimal, RawBookUpdate};

const OKX: &str = "channels: [trades, depth]\ninstruments: [BTC-USDT, BTC-USD-20220527, UNI-USD-PERP]\n\
                   snapshot_depth: 400\nsnapshot_check_period: 2s";
const OKX_SYMBOLS: [&str; 3] = ["BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"];
const BYBIT: &str = "channels: [depth]\ninstruments: [XRP-USDT-PERP]\nsnapshot_depth: 500\nsnapshot_check_period: 2s";

/// How a venue chains its deltas: OKX `prevSeqId` = the previous `seqId`; Bybit `u` + 1.
#[derive(Clone, Copy)]
enum Chain {
    Okx,
    Bybit,
}

/// `symbol`'s book rebuilt from the published records by the venue's chaining rule: the
/// book, its last id, and how many breaks the records hold.
fn rebuild(depth: &[RawBookUpdate], symbol: &str, chain: Chain) -> (OrderBook, Option<i64>, u64) {
    let mut book = OrderBook::default();
    let (mut last, mut breaks) = (None::<i64>, 0);
    let levels = |l: &[tickwatch_model::PriceLevel]| -> Vec<Level> {
        l.iter().map(|l| Level::parse(&l.price.to_string(), &l.size.to_string()).unwrap()).collect()
    };
    for r in depth.iter().filter(|r| r.symbol == symbol) {
        match r.update_kind {
            BookUpdateKind::Snapshot => {
                book.reset(levels(&r.bids), levels(&r.asks));
                last = Some(r.last_update_id);
            }
            BookUpdateKind::Delta => {
                let Some(l) = last else { continue };
                let chained = match chain {
                    Chain::Okx => r.prev_update_id == Some(l),
                    Chain::Bybit => r.last_update_id == l + 1,
                };
                if !chained {
                    breaks += 1;
                    last = None;
                    book.clear();
                    continue;
                }
                book.update(levels(&r.bids), levels(&r.asks));
                last = Some(r.last_update_id);
            }
        }
    }
    (book, last, breaks)
}

/// The venue's current book from its REST endpoint: id, bids, asks (top 100).
async fn venue_book(rest: &str, symbol: &str, chain: Chain) -> (i64, Vec<(Decimal, Decimal)>, Vec<(Decimal, Decimal)>) {
    let (url, path) = match chain {
        Chain::Okx => (format!("{rest}/api/v5/market/books?instId={symbol}&sz=400"), "/data/0"),
        Chain::Bybit => (format!("{rest}/v5/market/orderbook?category=linear&symbol={symbol}&limit=500"), "/result"),
    };
    let v: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let d = v.pointer(path).unwrap();
    let side = |s: &serde_json::Value| {
        let levels = s.as_array().unwrap().iter().take(100);
        levels.map(|l| (l[0].as_str().unwrap().parse().unwrap(), l[1].as_str().unwrap().parse().unwrap())).collect()
    };
    match chain {
        Chain::Okx => (d["seqId"].as_i64().unwrap(), side(&d["bids"]), side(&d["asks"])),
        Chain::Bybit => (d["u"].as_i64().unwrap(), side(&d["b"]), side(&d["a"])),
    }
}

fn top(it: &mut dyn Iterator<Item = &Level>) -> Vec<(Decimal, Decimal)> {
    it.take(100).map(|l| (l.price, l.size)).collect()
}

/// The recording's final id per symbol: OKX's fake numbers updates from 1000 on; Bybit's
/// last `u`.
fn final_id(dir: &std::path::Path, symbol: &str, chain: Chain) -> i64 {
    match chain {
        Chain::Okx => {
            let text = std::fs::read_to_string(dir.join("okx/ws_public_recording.jsonl")).unwrap();
            let needle = format!("\"channel\":\"books\",\"instId\":\"{symbol}\"}},\"action\":\"update\"");
            1_000 + text.lines().filter(|l| l.contains(&needle)).count() as i64
        }
        Chain::Bybit => {
            let text =
                std::fs::read_to_string(dir.join("bybit/orderbook_500_XRPUSDT_2024-12-01_historical.jsonl")).unwrap();
            let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
            last["data"]["u"].as_i64().unwrap()
        }
    }
}

/// Wait until the published books of `symbols` rebuild the venue's final books; returns
/// the breaks the published records hold.
async fn until_in_sync(
    c: &BaseConsumer,
    seen: &mut Published,
    rest: &str,
    prefix: &str,
    symbols: &[&str],
    chain: Chain,
) -> u64 {
    let dir = tickwatch_testkit::fixtures().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    'poll: loop {
        seen.poll(c, Duration::from_millis(500));
        let mut breaks = 0;
        for symbol in symbols {
            let (book, last, b) = rebuild(&seen.depth, symbol, chain);
            breaks += b;
            let (id, bids, asks) = venue_book(rest, symbol, chain).await;
            let done = last == Some(id)
                && id == final_id(&dir, symbol, chain)
                && top(&mut book.bids()) == bids
                && top(&mut book.asks()) == asks;
            if !done {
                assert!(
                    Instant::now() < deadline,
                    "{symbol}: published books never rebuilt the venue's: ours at {last:?}, venue at {id}; {} depth records; ingest log:\n{}",
                    seen.depth.len(),
                    log_tail(prefix)
                );
                continue 'poll;
            }
        }
        return breaks;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn okx_trades_and_books_arrive_exactly() {
    let Some(sc) = scenario("okx", "okx", "okx", OKX, &[]).await else { return };
    let c = reader(&sc.prefix);
    let mut seen = Published::default();
    let breaks = until_in_sync(&c, &mut seen, &sc.rest, &sc.prefix, &OKX_SYMBOLS, Chain::Okx).await;
    assert_eq!(breaks, 0);
    let text = std::fs::read_to_string(sc.dir.join("okx/ws_public_recording.jsonl")).unwrap();
    let recorded: usize = text
        .lines()
        .filter(|l| l.starts_with("{\"arg\":{\"channel\":\"trades\""))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["data"].as_array().unwrap().len())
        .sum();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.trades.len() < recorded && Instant::now() < deadline {
        seen.poll(&c, Duration::from_millis(500));
    }
    assert_eq!(seen.trades.len(), recorded, "every recorded trade, once");
    let first = seen.trades.iter().find(|t| t.trade_id == "7849").expect("the first recorded trade");
    assert_eq!(
        (
            first.venue.as_str(),
            first.market.as_str(),
            first.symbol.as_str(),
            first.price.to_string(),
            first.size.to_string()
        ),
        ("okx", "futures", "BTC-USD-220527", "30218.8".into(), "1".into())
    );
    assert_eq!(first.event_time_us, 1_652_459_199_958_000);
    // Each trade carries its dedup key (venue, instrument, channel, trade id); all distinct.
    assert!(seen.trade_keys.contains(&"okx|BTC-USD-220527|trades|7849".to_string()));
    let distinct: std::collections::BTreeSet<&String> = seen.trade_keys.iter().collect();
    assert_eq!(distinct.len(), seen.trades.len());
    let port = sc.port;
    // Every push carried a checksum; none failed, no sequence broke.
    assert_eq!(metric(port, "book_sequence_gaps_total").await, 0);
    assert_eq!(metric(port, "book_resyncs_total{venue=\"okx\"").await, 3);
    let msgs =
        metric(port, "collector_in_msgs_total{venue=\"okx\",instrument=\"UNI-USD-PERP\",channel=\"depth\"}").await;
    assert_eq!(msgs as usize, seen.depth.iter().filter(|d| d.symbol == "UNI-USD-SWAP").count());
    // The books match the venue's REST snapshots at their seqId.
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(port, "book_checks_total{venue=\"okx\",instrument=\"BTC-USDT\",result=\"same\"}").await == 0 {
        assert!(Instant::now() < deadline, "no REST book check came out equal:\n{}", log_tail(&sc.prefix));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(metric(port, "book_checks_total{venue=\"okx\",instrument=\"BTC-USDT\",result=\"diverged\"}").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn okx_lost_updates_are_counted_and_healed_by_resubscribing() {
    let Some(mut sc) = scenario("okxd", "okx", "okx", OKX, &["--drop-every", "40", "--reorder-every", "97"]).await
    else {
        return;
    };
    let c = reader(&sc.prefix);
    let mut seen = Published::default();
    let breaks = until_in_sync(&c, &mut seen, &sc.rest, &sc.prefix, &OKX_SYMBOLS, Chain::Okx).await;
    let gaps = metric(sc.port, "book_sequence_gaps_total{venue=\"okx\"").await;
    assert!(gaps >= 3, "{gaps} gaps");
    assert_eq!(breaks, gaps, "each break the ingestor saw is one a reader of raw.depth sees");
    // A lost last update shows no gap (nothing comes after it): the REST check finds the
    // book stuck behind the venue, counts a divergence and rebuilds it.
    let mut diverged = 0;
    for i in ["BTC-USDT", "BTC-USD-20220527", "UNI-USD-PERP"] {
        let labels = format!("venue=\"okx\",instrument=\"{i}\",result=\"diverged\"");
        diverged += metric(sc.port, &format!("book_checks_total{{{labels}}}")).await;
    }
    let snapshots = seen.depth.iter().filter(|d| d.update_kind == BookUpdateKind::Snapshot).count() as u64;
    assert_eq!(snapshots, 3 + gaps + diverged, "one fresh snapshot per gap and per divergence");
    let resyncs = metric(sc.port, "book_resyncs_total{venue=\"okx\"").await;
    assert_eq!(resyncs, snapshots);
    let depth_msgs =
        metric(sc.port, "collector_in_msgs_total{venue=\"okx\",instrument=\"BTC-USDT\",channel=\"depth\"}").await;
    // Stopped, the ingestor publishes its open data-quality minute: the same counts.
    sc._ingest.terminate();
    let deadline = Instant::now() + Duration::from_secs(30);
    let sum = |seen: &Published, f: fn(&tickwatch_model::QualityMinute) -> i64| -> i64 {
        seen.quality.iter().filter(|q| q.channel == "depth").map(f).sum()
    };
    while sum(&seen, |q| q.resyncs) < resyncs as i64 {
        assert!(Instant::now() < deadline, "dq.minute rows: {:?}", seen.quality);
        seen.poll(&c, Duration::from_millis(500));
    }
    assert_eq!(sum(&seen, |q| q.gaps), gaps as i64);
    assert!(seen.quality.iter().filter(|q| q.gaps > 0).all(|q| q.lost_messages.is_none()), "OKX losses are unknown");
    let btc: i64 =
        seen.quality.iter().filter(|q| q.instrument == "BTC-USDT" && q.channel == "depth").map(|q| q.messages).sum();
    assert_eq!(btc as u64, depth_msgs);
    let trades = seen.quality.iter().find(|q| q.instrument == "BTC-USDT" && q.channel == "trades").unwrap();
    assert!(trades.source_lag_p95_ms.is_some() && trades.venue == "okx");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bybit_book_arrives_exactly_and_a_lost_delta_is_an_exact_gap() {
    let Some(sc) = scenario("bybit", "bybit", "bybit", BYBIT, &[]).await else { return };
    let c = reader(&sc.prefix);
    let mut seen = Published::default();
    assert_eq!(until_in_sync(&c, &mut seen, &sc.rest, &sc.prefix, &["XRPUSDT"], Chain::Bybit).await, 0);
    assert!(seen.depth.iter().all(|d| (d.venue.as_str(), d.market.as_str()) == ("bybit", "linear")));
    assert_eq!(metric(sc.port, "book_sequence_gaps_total").await, 0);
    drop(sc);

    let Some(sc) = scenario("bybitd", "bybit", "bybit", BYBIT, &["--drop-every", "12"]).await else { return };
    let c = reader(&sc.prefix);
    let mut seen = Published::default();
    let breaks = until_in_sync(&c, &mut seen, &sc.rest, &sc.prefix, &["XRPUSDT"], Chain::Bybit).await;
    let exact =
        metric(sc.port, "book_sequence_gaps_total{venue=\"bybit\",instrument=\"XRP-USDT-PERP\",loss=\"exact\"}").await;
    assert!(exact >= 1 && breaks == exact, "{exact} exact gaps, {breaks} breaks in raw.depth");
}

/// The P95 of a Prometheus histogram's text, by linear interpolation inside the bucket.
fn p95(metrics: &str, name: &str) -> (f64, u64) {
    let buckets: Vec<(f64, u64)> = metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket")))
        .map(|l| {
            let le = l.split("le=\"").nth(1).unwrap().split('"').next().unwrap();
            (le.parse().unwrap_or(f64::INFINITY), l.rsplit(' ').next().unwrap().parse().unwrap())
        })
        .collect();
    let total = buckets.last().map_or(0, |b| b.1);
    let rank = (total as f64 * 0.95).ceil() as u64;
    let mut prev = (0.0, 0);
    for (le, count) in buckets {
        if count >= rank {
            let within = (rank - prev.1) as f64 / (count - prev.1).max(1) as f64;
            return (prev.0 + (le - prev.0) * within, total);
        }
        prev = (le, count);
    }
    (f64::NAN, total)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_forced_close_resyncs_the_book() {
    // OKX closes each connection 150 ms after it opened, with its service-upgrade notice.
    let Some(sc) = scenario("okxr", "okx", "okx", OKX, &["--lifetime-ms", "150"]).await else { return };
    let port = sc.port;
    let deadline = Instant::now() + Duration::from_secs(120);
    while metric(port, "ws_reconnects_total{venue=\"okx\",reason=\"venue_closing\"}").await < 100 {
        assert!(Instant::now() < deadline, "fewer than 100 reconnects:\n{}", log_tail(&sc.prefix));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    let reconnects = metric(port, "ws_reconnects_total{venue=\"okx\"").await;
    let (p95, timed) = p95(&text, "book_resync_seconds");
    // Three books per connection, each resynced after every reconnect but the last.
    assert!(timed >= 3 * (reconnects - 1), "{timed} resyncs timed for {reconnects} reconnects");
    assert!(p95.is_finite() && p95 > 0.0);
    eprintln!(
        "resync after a forced close: P95 {:.0} ms over {timed} book resyncs ({reconnects} reconnects)",
        p95 * 1000.0
    );
}
