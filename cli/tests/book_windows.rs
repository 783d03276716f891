//! `tickwatch windows book` and `tickwatch sink clickhouse` on the real broker, registry and
//! ClickHouse: random book snapshots and deltas in two halves, the book worker killed with
//! SIGKILL once it has published, restarted for the second half: the `book_tops` table under
//! `FINAL` holds, row for row and to the last decimal, the windows the builder computes
//! offline from the same updates.

use rdkafka::producer::FutureRecord;
use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_model::{wire, AvroRecord, BookTop, BookUpdate, BookUpdateKind, Decimal, InstrumentKind, PriceLevel};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_sink_windows::{BookTopBuilder, WindowConfig};
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{stack, unique, ChildGuard};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");

/// `n` updates of two instruments from `start_us`, each instrument opening with a snapshot.
fn updates(seed: u64, n: usize, start_us: i64, first_id: i64) -> Vec<BookUpdate> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut t = start_us;
    let mut id = first_id;
    (0..n)
        .map(|i| {
            t += rng.i64(0..30_000);
            id += 1;
            let instrument = ["BTC-USDT", "ETH-USDT"][i % 2];
            let snapshot = i < 2 || rng.u32(0..400) == 0;
            let k = if snapshot { 30 } else { rng.usize(1..5) };
            let side = |rng: &mut fastrand::Rng, base: u32| -> Vec<PriceLevel> {
                (0..k)
                    .map(|_| PriceLevel {
                        price: format!("{}.{:06}", base + rng.u32(0..10), rng.u32(0..1_000_000)).parse().unwrap(),
                        size: if rng.u32(0..4) == 0 {
                            Decimal::ZERO
                        } else {
                            format!("0.{:08}", rng.u32(1..100_000_000)).parse().unwrap()
                        },
                    })
                    .collect()
            };
            BookUpdate {
                venue: "bybit".into(),
                instrument: instrument.into(),
                base: instrument[..3].into(),
                quote: "USDT".into(),
                kind: InstrumentKind::Spot,
                expiry_us: None,
                venue_symbol: instrument.replace('-', ""),
                update_kind: if snapshot { BookUpdateKind::Snapshot } else { BookUpdateKind::Delta },
                first_update_id: Some(id),
                last_update_id: id,
                prev_update_id: Some(id - 1),
                checksum: None,
                bids: side(&mut rng, 100),
                asks: side(&mut rng, 111),
                event_time_us: t,
                receive_time_us: t + 1_000,
                source_lag_ms: 1,
            }
        })
        .collect()
}

fn process(settings: &std::path::Path, args: &[&str], log: &std::path::Path) -> ChildGuard {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let child =
        Command::new(BIN).arg("--config").arg(settings).args(args).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    ChildGuard(child)
}

fn int(v: &serde_json::Value) -> i64 {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap()
}

fn dec(v: &serde_json::Value) -> Option<Decimal> {
    v.as_str().map(|s| s.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn book_tops_in_clickhouse_equal_the_offline_windows_through_a_kill() {
    let s = stack();
    let prefix = unique("bookw");
    let db = prefix.replace('-', "_");
    let settings_path = settings_with_clickhouse(s, &s.settings.clickhouse.url, &db);
    let out = Command::new(BIN).arg("--config").arg(&settings_path).arg("migrate").output().unwrap();
    assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    let topics = ["depth", "book.1s", "book.5s", "raw.depth.quarantine"];
    let specs: Vec<TopicSpec> = topics
        .iter()
        .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    broker::create_topics(&s.broker(), &specs).await.unwrap();
    let registry = RegistryClient::new(&s.settings.registry.url);
    let id = registry.register(&format!("{prefix}.depth-value"), BookUpdate::SCHEMA_JSON).await.unwrap();
    let windows = std::env::temp_dir().join(format!("{prefix}-windows.yaml"));
    std::fs::write(&windows, "intervals: [1s, 5s]\nidle_after_ms: 1000\nbook_levels: 5\n").unwrap();
    let sinks = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
    std::fs::write(&sinks, "clickhouse:\n  topics: [book.1s, book.5s]\n  batch_rows: 500\n  batch_ms: 200\n").unwrap();
    let cfg = WindowConfig {
        intervals: vec!["1s".into(), "5s".into()],
        idle_after_ms: 1_000,
        book_levels: 5,
        ..WindowConfig::default()
    };

    // Two halves a minute apart in event time, so the first half's quiet end closes the same
    // windows as the offline run.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
    let first = updates(1, 1_000, now - 20 * 60_000_000, 1_000);
    let second = updates(2, 1_000, first.last().unwrap().event_time_us + 60_000_000, 10_000);
    let all: Vec<BookUpdate> = first.iter().chain(&second).cloned().collect();
    let mut offline = BookTopBuilder::new(&cfg).unwrap();
    let mut expected = Vec::new();
    for (offset, u) in all.iter().enumerate() {
        offline.on_update(u, offset as i64, now, &mut expected);
    }
    offline.finish(now, &mut expected);
    let expected: BTreeMap<(String, String, i64), BookTop> =
        expected.into_iter().map(|t| ((t.instrument.clone(), t.interval.clone(), t.window_start_us), t)).collect();

    let producer = ReliableProducer::new(&s.broker()).unwrap();
    let send = |batch: Vec<BookUpdate>| {
        let producer = &producer;
        let topic = format!("{prefix}.depth");
        async move {
            let values: Vec<(String, Vec<u8>)> =
                batch.iter().map(|u| (u.instrument.clone(), wire::frame(id, &u.to_avro().unwrap()))).collect();
            let deliveries: Vec<_> = values
                .iter()
                .map(|(k, v)| {
                    producer
                        .client()
                        .send_result(FutureRecord::to(&topic).key(k.as_bytes()).payload(v))
                        .map_err(|(e, _)| e)
                        .unwrap()
                })
                .collect();
            for d in deliveries {
                d.await.unwrap().unwrap();
            }
        }
    };
    let log = std::env::temp_dir().join(format!("{prefix}.log"));
    let topic_prefix = format!("{prefix}.");
    let worker_args = [
        "windows",
        "book",
        "--windows",
        windows.to_str().unwrap(),
        "--topic-prefix",
        &topic_prefix,
        "--group",
        &format!("{prefix}-book"),
    ];
    let settings = Settings::load(&settings_path).unwrap();
    let ch = ClickHouse::new(&settings.clickhouse);
    let count = || async {
        ch.query_rows("SELECT count() AS n FROM book_tops FINAL").await.map(|r| int(&r[0]["n"])).unwrap_or(0)
    };

    send(first).await;
    let mut sink = process(
        &settings_path,
        &[
            "sink",
            "clickhouse",
            "--sinks",
            sinks.to_str().unwrap(),
            "--topic-prefix",
            &topic_prefix,
            "--group",
            &format!("{prefix}-sink"),
        ],
        &log,
    );
    let mut worker = process(&settings_path, &worker_args, &log);
    let deadline = Instant::now() + Duration::from_secs(120);
    while count().await == 0 {
        assert!(
            Instant::now() < deadline,
            "no book window reached ClickHouse\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    worker.0.kill().unwrap();
    worker.0.wait().unwrap();
    send(second).await;
    let _worker = process(&settings_path, &worker_args, &log);
    let deadline = Instant::now() + Duration::from_secs(180);
    while count().await < expected.len() as i64 {
        assert!(
            Instant::now() < deadline,
            "{} of {} windows\n{}",
            count().await,
            expected.len(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let rows = ch
        .query_rows(
            "SELECT instrument, interval, toUnixTimestamp64Micro(window_start) AS ws, last_update_id, updates, \
             toString(bid_price) AS bp, toString(bid_size) AS bs, toString(ask_price) AS ap, toString(ask_size) AS az, \
             toString(bid_depth) AS bd, toString(ask_depth) AS ad, toString(reinterpretAsUInt64(imbalance)) AS ib FROM book_tops FINAL",
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), expected.len(), "no window beyond the offline ones");
    let mut matched: HashMap<&str, usize> = HashMap::new();
    for r in &rows {
        let key =
            (r["instrument"].as_str().unwrap().to_string(), r["interval"].as_str().unwrap().to_string(), int(&r["ws"]));
        let want = expected.get(&key).unwrap_or_else(|| panic!("unexpected window {key:?}"));
        assert_eq!((int(&r["last_update_id"]), int(&r["updates"])), (want.last_update_id, want.updates), "{key:?}");
        assert_eq!(
            (dec(&r["bp"]), dec(&r["bs"]), dec(&r["ap"]), dec(&r["az"])),
            (want.bid_price, want.bid_size, want.ask_price, want.ask_size),
            "{key:?}"
        );
        assert_eq!((dec(&r["bd"]), dec(&r["ad"])), (Some(want.bid_depth), Some(want.ask_depth)), "{key:?}");
        // Bit for bit (ClickHouse's JSON prints 16 digits; the stored double is exact).
        let bits = r["ib"].as_str().map(|b| b.parse::<u64>().unwrap());
        assert_eq!(bits, want.imbalance.map(f64::to_bits), "{key:?}");
        *matched.entry(if key.1 == "1s" { "1s" } else { "5s" }).or_default() += 1;
    }
    eprintln!("book windows matched: {matched:?}");
    sink.terminate();
    let _ = ch.execute(&format!("DROP DATABASE IF EXISTS `{db}`")).await;
}
