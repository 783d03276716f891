//! `tickwatch ingest` against `tickwatch fake-venue` replaying the real Binance USD-M
//! recording, publishing to the real broker with the real registry: every trade arrives
//! exactly, the published depth stream rebuilds (by Binance's own rules) the very book the
//! venue ends with, and injected disconnects, garbage and dropped frames are detected,
//! healed and counted in `/metrics`, which the stack's Prometheus scrapes.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_ingest::binance::messages::{DepthSnapshot, DepthUpdate};
use tickwatch_ingest::binance::{BinanceBook, Market};
use tickwatch_model::{wire, AvroRecord, BookUpdateKind, RawBookUpdate, RawTrade};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_testkit::prometheus::{wait_for_value, ScrapeTarget};
use tickwatch_testkit::{fixtures, free_port, stack, unique, wait_http, ChildGuard};

const SYMBOL: &str = "SUSHIUSDT";

/// One scenario at a time. Run together, the three ingestors' idempotent producers and topic
/// creations met Tansu's concurrency faults (seen: ProducerFenced and OutOfOrderSequenceNumber
/// answered to producers of different processes, records on a partition the topic was not
/// created with); the publisher survives those (it resends, and the books re-anchor on fresh
/// snapshots), but the exact-book checks here need a broker that keeps order.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Start the fake; returns it with its WS and REST URLs.
fn fake_venue(recording: &std::path::Path, faults: &[&str]) -> (ChildGuard, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .args(["fake-venue", "--venue", "binance-usdm", "--speed", "0", "--recording"])
        .arg(recording)
        .args(faults)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let field = |name: &str| line.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap().to_string();
    let (ws, rest) = (field("ws_url="), field("rest_url="));
    (ChildGuard(child), ws, rest)
}

fn ingest(prefix: &str, ws: &str, rest: &str, metrics_port: u16) -> ChildGuard {
    let exchanges = std::env::temp_dir().join(format!("{prefix}-exchanges.yaml"));
    std::fs::write(
        &exchanges,
        format!(
            "venues:\n  binance-usdm:\n    ws_url: {ws}\n    rest_url: {rest}\n    channels: [trades, depth]\n    \
             instruments: [SUSHI-USDT-PERP]\n    snapshot_depth: 1000\n    snapshot_check_period: 5m\n    \
             max_streams_per_connection: 200\n    subscribe_per_second: 10\n    \
             reconnect: {{initial_backoff: 50ms, max_backoff: 500ms, jitter: 0.2}}\n    rotate_after: 23h\n    \
             stall_after: 10m\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .arg("--config")
        .arg(&stack().settings_path)
        .args(["ingest", "--venue", "binance-usdm", "--exchanges"])
        .arg(&exchanges)
        .args(["--topic-prefix", &format!("{prefix}.")])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log_path(prefix)).unwrap())
        .spawn()
        .unwrap();
    ChildGuard(child)
}

/// The ingestor's log, kept for the failure message.
fn log_path(prefix: &str) -> std::path::PathBuf {
    let dir = tickwatch_testkit::repo_root().join("target/test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{prefix}-ingest.log"))
}

/// The last warnings and errors of the ingestor's log.
fn log_tail(prefix: &str) -> String {
    let text = std::fs::read_to_string(log_path(prefix)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains(" INFO ")).collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

async fn topics(prefix: &str) {
    let specs: Vec<TopicSpec> = ["raw.trades", "raw.depth", "raw.reference"]
        .iter()
        .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    broker::create_topics(&stack().broker(), &specs).await.unwrap();
}

fn reader(prefix: &str) -> BaseConsumer {
    let c: BaseConsumer = broker::client_config(&stack().broker())
        .set("group.id", unique("reader"))
        .set("fetch.wait.max.ms", "50")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for t in ["raw.trades", "raw.depth"] {
        let topic = format!("{prefix}.{t}");
        // Every partition the broker reports, whatever the topic was created with.
        let md = c.fetch_metadata(Some(&topic), Duration::from_secs(10)).unwrap();
        for p in md.topics()[0].partitions() {
            // Offset 0, not Beginning: resolving Beginning asks ListOffsets, which Tansu
            // answers wrongly.
            tpl.add_partition_offset(&topic, p.id(), Offset::Offset(0)).unwrap();
        }
    }
    c.assign(&tpl).unwrap();
    c
}

#[derive(Default)]
struct Published {
    trades: Vec<RawTrade>,
    depth: Vec<RawBookUpdate>,
}

impl Published {
    fn poll(&mut self, c: &BaseConsumer, for_at_most: Duration) {
        let until = Instant::now() + for_at_most;
        while Instant::now() < until {
            let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
            assert_eq!(m.key(), Some(SYMBOL.as_bytes()), "raw records are keyed by venue symbol");
            let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
            if m.topic().ends_with("raw.trades") {
                self.trades.push(RawTrade::from_avro(datum).unwrap());
            } else {
                self.depth.push(RawBookUpdate::from_avro(datum).unwrap());
            }
        }
    }

    /// The book the published depth stream builds by Binance's rules, and its gap count.
    fn rebuild(&self) -> (BinanceBook, u64) {
        let mut book = BinanceBook::new(Market::UsdM);
        let mut gaps = 0;
        let side =
            |l: &[tickwatch_model::PriceLevel]| l.iter().map(|l| (l.price.to_string(), l.size.to_string())).collect();
        for r in &self.depth {
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

async fn metric(port: u16, prefix: &str) -> u64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum()
}

/// Wait until the published depth rebuilds the venue's final book.
async fn until_in_sync(c: &BaseConsumer, seen: &mut Published, rest: &str, prefix: &str) -> BinanceBook {
    let deadline = Instant::now() + Duration::from_secs(90);
    let final_id = final_id();
    loop {
        seen.poll(c, Duration::from_millis(500));
        let (book, _) = seen.rebuild();
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

/// A fake venue, an ingestor publishing to fresh topics, and its metrics port; one scenario
/// at a time (the guard is dropped last).
struct Scenario {
    dir: std::path::PathBuf,
    prefix: String,
    rest: String,
    port: u16,
    _ingest: ChildGuard,
    _fake: ChildGuard,
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

/// Start a scenario with the fake's `faults`; None (skipped) without `../shared/fixtures`.
async fn scenario(name: &str, faults: &[&str]) -> Option<Scenario> {
    let serial = SERIAL.lock().await;
    let dir = fixtures()?;
    let prefix = unique(name);
    topics(&prefix).await;
    let (fake, ws, rest) = fake_venue(&dir.join("binance_usdm"), faults);
    let port = free_port();
    let ingest = ingest(&prefix, &ws, &rest, port);
    tokio::task::block_in_place(|| wait_http(&format!("http://127.0.0.1:{port}/metrics"), 60));
    Some(Scenario { dir, prefix, rest, port, _ingest: ingest, _fake: fake, _one_at_a_time: serial })
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
    let Some(sc) = scenario("ing", &[]).await else { return };
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
    let (_, gaps) = seen.rebuild();
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
    let Some(sc) = scenario("ingf", &faults).await else { return };
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
    let Some(sc) = scenario("ingd", &["--drop-every", "45"]).await else { return };
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
