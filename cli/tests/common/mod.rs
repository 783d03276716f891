//! What the ingest end-to-end tests share: a fake venue process, an ingestor publishing to
//! fresh topics on the real broker, a reader of those topics, and the ingestor's metrics.

#![allow(dead_code)]

pub mod dex;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_model::{wire, AvroRecord, QualityMinute, RawBookUpdate, RawReferencePrice, RawTrade, Signal};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_testkit::{fixtures, free_port, stack, unique, wait_http, ChildGuard};

/// One scenario at a time. Run together, several ingestors' idempotent producers and topic
/// creations met Tansu's concurrency faults (seen: ProducerFenced and OutOfOrderSequenceNumber
/// answered to producers of different processes, records on a partition the topic was not
/// created with); the publisher survives those (it resends, and the books re-anchor on fresh
/// snapshots), but the exact-book checks here need a broker that keeps order.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Start the fake `venue` over `recording` as fast as it goes; returns it with its WS and
/// REST URLs.
pub fn fake_venue(venue: &str, recording: &std::path::Path, faults: &[&str]) -> (ChildGuard, String, String) {
    fake_venue_at(venue, recording, 0.0, faults)
}

/// The same at `speed` (1: the recorded pace).
pub fn fake_venue_at(
    venue: &str,
    recording: &std::path::Path,
    speed: f64,
    faults: &[&str],
) -> (ChildGuard, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .args(["fake-venue", "--venue", venue, "--speed", &speed.to_string(), "--recording"])
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

/// `tickwatch ingest --venue V` with an exchanges file of one venue; `settings` is the rest
/// of the venue's block (channels, instruments, ...).
pub fn ingest(prefix: &str, venue: &str, ws: &str, rest: &str, settings: &str, metrics_port: u16) -> ChildGuard {
    let exchanges = std::env::temp_dir().join(format!("{prefix}-exchanges.yaml"));
    let block: String = settings.lines().map(|l| format!("    {l}\n")).collect();
    std::fs::write(
        &exchanges,
        format!(
            "venues:\n  {venue}:\n    ws_url: {ws}\n    rest_url: {rest}\n{block}    max_streams_per_connection: 200\n    \
             subscribe_per_second: 10\n    reconnect: {{initial_backoff: 50ms, max_backoff: 500ms, jitter: 0.2}}\n    \
             rotate_after: 23h\n    stall_after: 10m\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .arg("--config")
        .arg(&stack().settings_path)
        .args(["ingest", "--venue", venue, "--exchanges"])
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
pub fn log_path(prefix: &str) -> std::path::PathBuf {
    let dir = tickwatch_testkit::repo_root().join("target/test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{prefix}-ingest.log"))
}

/// The last warnings and errors of the ingestor's log.
pub fn log_tail(prefix: &str) -> String {
    let text = std::fs::read_to_string(log_path(prefix)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains(" INFO ")).collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// The topics an ingestor writes: the raw ones, the data-quality minutes and its signals
/// (stream silences).
pub const RAW_TOPICS: [&str; 5] = ["raw.trades", "raw.depth", "raw.reference", "dq.minute", "signals"];

/// Create the scenario's topics.
pub async fn topics(prefix: &str) {
    let specs: Vec<TopicSpec> = RAW_TOPICS
        .iter()
        .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    broker::create_topics(&stack().broker(), &specs).await.unwrap();
}

/// A consumer of the scenario's raw topics from their first record.
pub fn reader(prefix: &str) -> BaseConsumer {
    let c: BaseConsumer = broker::client_config(&stack().broker())
        .set("group.id", unique("reader"))
        .set("fetch.wait.max.ms", "50")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for t in RAW_TOPICS {
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

/// Everything read from the raw topics so far, with each record's key.
#[derive(Default)]
pub struct Published {
    pub trades: Vec<RawTrade>,
    /// The `dedup_key` header of each trade.
    pub trade_keys: Vec<String>,
    pub depth: Vec<RawBookUpdate>,
    pub reference: Vec<RawReferencePrice>,
    pub quality: Vec<QualityMinute>,
    pub signals: Vec<Signal>,
}

impl Published {
    pub fn poll(&mut self, c: &BaseConsumer, for_at_most: Duration) {
        let until = Instant::now() + for_at_most;
        while Instant::now() < until {
            let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
            let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
            let key = m.key().map(|k| String::from_utf8_lossy(k).to_string()).unwrap_or_default();
            if m.topic().ends_with("raw.trades") {
                let r = RawTrade::from_avro(datum).unwrap();
                assert_eq!(key, r.symbol, "raw records are keyed by venue symbol");
                let dedup = m.headers().and_then(|h| h.iter().find(|h| h.key == "dedup_key")).and_then(|h| h.value);
                self.trade_keys.push(String::from_utf8_lossy(dedup.expect("a dedup_key header")).to_string());
                self.trades.push(r);
            } else if m.topic().ends_with("raw.depth") {
                let r = RawBookUpdate::from_avro(datum).unwrap();
                assert_eq!(key, r.symbol, "raw records are keyed by venue symbol");
                self.depth.push(r);
            } else if m.topic().ends_with("dq.minute") {
                self.quality.push(QualityMinute::from_avro(datum).unwrap());
            } else if m.topic().ends_with("signals") {
                let s = Signal::from_avro(datum).unwrap();
                assert_eq!(key, s.instrument, "signals are keyed by instrument");
                self.signals.push(s);
            } else {
                self.reference.push(RawReferencePrice::from_avro(datum).unwrap());
            }
        }
    }
}

/// The sum of the `/metrics` lines starting with `prefix`.
pub async fn metric(port: u16, prefix: &str) -> u64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum()
}

/// A fake venue, an ingestor publishing to fresh topics, and its metrics port; one scenario
/// at a time (the guard is dropped last).
pub struct Scenario {
    pub dir: std::path::PathBuf,
    pub prefix: String,
    pub rest: String,
    pub port: u16,
    pub _ingest: ChildGuard,
    pub _fake: ChildGuard,
    pub _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

/// Start a scenario: the fake `venue` over `folder` of the fixtures with `faults`, and an
/// ingestor with the venue block `settings`. None (skipped) without `../shared/fixtures`.
pub async fn scenario(name: &str, venue: &str, folder: &str, settings: &str, faults: &[&str]) -> Option<Scenario> {
    let serial = SERIAL.lock().await;
    let dir = fixtures()?;
    let prefix = unique(name);
    topics(&prefix).await;
    let (fake, ws, rest) = fake_venue(venue, &dir.join(folder), faults);
    let port = free_port();
    let ingest = ingest(&prefix, venue, &ws, &rest, settings, port);
    tokio::task::block_in_place(|| wait_http(&format!("http://127.0.0.1:{port}/metrics"), 60));
    Some(Scenario { dir, prefix, rest, port, _ingest: ingest, _fake: fake, _one_at_a_time: serial })
}

/// `tickwatch --config <settings> <args>` in the background, its log in
/// `target/test-logs/<prefix>-<name>.log`.
pub fn spawn<S: AsRef<std::ffi::OsStr>>(
    settings: &std::path::Path,
    prefix: &str,
    name: &str,
    args: &[S],
) -> ChildGuard {
    tickwatch_testkit::spawn_logged(env!("CARGO_BIN_EXE_tickwatch"), settings, ("test-logs", prefix, name), args)
}
