//! `tickwatch replay` on the real broker and S3 server: a time range of a topic re-published
//! into a shadow topic (exactly the records in the range, each partition in order, keys,
//! values, headers and timestamps kept, the origin named in a header), and the window worker
//! over the replayed trades building the very bars the live worker built while they arrived;
//! the same from the Parquet history (`--from-parquet`), whose rows come back as the very
//! records, byte for byte, that the Parquet writer read.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_model::*;
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_sink_parquet::read::read_file;
use tickwatch_sink_parquet::store::Bucket;
use tickwatch_testkit::market::okx_spot_trade;
use tickwatch_testkit::{repo_root, stack, unique, ChildGuard};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");
const INTERVALS: [&str; 2] = ["1s", "5s"];

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Trade `i` of a market that trades every 10 ms from `t0_us`, two instruments.
fn trade(i: u64, t0_us: i64) -> Trade {
    let instrument = ["BTC-USDT", "ETH-USDT"][(i % 2) as usize];
    okx_spot_trade(
        instrument,
        (50_000 + i).to_string(),
        &format!("{}.{:06}", 100 + i % 5, i * 7_919 % 1_000_000),
        &format!("0.{:06}", i * 104_729 % 1_000_000 + 1),
        if i.is_multiple_of(3) { TakerSide::Buy } else { TakerSide::Sell },
        t0_us + i as i64 * 10_000,
        1_500,
    )
}

/// One record as read: partition, key, value, headers, timestamp.
type Read = (i32, Vec<u8>, Vec<u8>, Vec<(String, Vec<u8>)>, i64);

/// Everything in `topic` (every partition from offset 0), for `secs` of quiet.
fn read_all(topic: &str, partitions: i32, quiet: Duration) -> Vec<Read> {
    let c: BaseConsumer = broker::client_config(&stack().broker()).set("group.id", unique("reader")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Offset(0)).unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
        let headers = m
            .headers()
            .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec())).collect())
            .unwrap_or_default();
        out.push((
            m.partition(),
            m.key().unwrap_or_default().to_vec(),
            m.payload().unwrap_or_default().to_vec(),
            headers,
            m.timestamp().to_millis().unwrap(),
        ));
        last = Instant::now();
    }
    out
}

fn replay(topic: &str, from: i64, to: i64, to_topic: &str) -> String {
    replay_with(&["--topic", topic], from, to, to_topic)
}

fn replay_with(source: &[&str], from: i64, to: i64, to_topic: &str) -> String {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&stack().settings_path)
        .arg("replay")
        .args(source)
        .args(["--from", &from.to_string(), "--to", &to.to_string(), "--to-topic", to_topic])
        .output()
        .unwrap();
    assert!(out.status.success(), "replay: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn windows(prefix: &str, cfg: &std::path::Path, name: &str) -> ChildGuard {
    let log = repo_root().join(format!("target/test-logs/{}-{name}.log", prefix.trim_end_matches('.')));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&stack().settings_path)
        .args(["windows", "run", "--windows"])
        .arg(cfg)
        .args(["--topic-prefix", prefix, "--group", &format!("{prefix}windows")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("tickwatch windows run starts");
    ChildGuard(child)
}

/// The bars of `<prefix>kline.*` at their highest version, without the emission time.
fn bars(prefix: &str, quiet: Duration) -> BTreeMap<(String, String, i64), Kline> {
    let mut seen = BTreeMap::new();
    for i in INTERVALS {
        for (_, _, value, _, _) in read_all(&format!("{prefix}kline.{i}"), 1, quiet) {
            let (_, datum) = wire::unframe(&value).unwrap();
            let k = Kline { emitted_at_us: 0, ..Kline::from_avro(datum).unwrap() };
            let key = (k.instrument.clone(), k.interval.clone(), k.open_time_us);
            if seen.get(&key).is_none_or(|old: &Kline| old.version <= k.version) {
                seen.insert(key, k);
            }
        }
    }
    seen
}

/// A live and a shadow topic prefix: the trade input (two partitions, its schema
/// registered) and each side's k-line and quarantine topics; and the window worker's config.
struct Setup {
    live: String,
    shadow: String,
    input: String,
    id: u32,
    cfg: std::path::PathBuf,
}

async fn setup(prefix: &str) -> Setup {
    let (live, shadow) = (format!("{prefix}."), format!("{prefix}.shadow."));
    let mut specs = Vec::new();
    for p in [&live, &shadow] {
        let mut names = vec![format!("{p}trades.quarantine")];
        names.extend(INTERVALS.iter().map(|i| format!("{p}kline.{i}")));
        specs.extend(names.into_iter().map(|name| TopicSpec { name, partitions: 1, replication: 1, configs: vec![] }));
    }
    let input = format!("{live}trades");
    specs.push(TopicSpec { name: input.clone(), partitions: 2, replication: 1, configs: vec![] });
    broker::create_topics(&stack().broker(), &specs).await.unwrap();
    let registry = RegistryClient::new(&stack().settings.registry.url);
    let id = registry.register(&format!("{input}-value"), Trade::SCHEMA_JSON).await.unwrap();
    let cfg = std::env::temp_dir().join(format!("{prefix}-windows.yaml"));
    std::fs::write(
        &cfg,
        "intervals: [1s, 5s]\nallowed_lateness_ms: 2000\ncorrection_horizon_ms: 10000\nidle_after_ms: 1000\n",
    )
    .unwrap();
    Setup { live, shadow, input, id, cfg }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_range_is_exactly_its_records_and_rebuilds_the_live_bars() {
    let b = stack().broker();
    let prefix = unique("rpl");
    let Setup { live, shadow, input, id, cfg } = setup(&prefix).await;
    let _live_worker = windows(&live, &cfg, "live");

    // Three rounds a second apart, each instrument on its own partition; the middle round's
    // record timestamps are the range replayed first.
    let producer = ReliableProducer::new(&b).unwrap();
    let t0_us = now_ms() * 1000;
    let mut bounds = Vec::new();
    for round in 0..3u64 {
        bounds.push(now_ms());
        for i in round * 300..(round + 1) * 300 {
            let t = trade(i, t0_us);
            let header = [(b"h".to_vec(), Some(format!("round-{round}").into_bytes()))];
            let value = wire::frame(id, &t.to_avro().unwrap());
            let partition = (i % 2) as i32;
            producer
                .send_with_headers(&input, Some(partition), Some(t.instrument.as_bytes()), Some(&value), &header)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1_100)).await;
    }
    bounds.push(now_ms());
    let original = read_all(&input, 2, Duration::from_secs(3));
    assert_eq!(original.len(), 900);

    // The middle round only: exactly its records, per partition in order, all kept.
    let middle = format!("{prefix}.middle");
    let said = replay(&input, bounds[1], bounds[2], &middle);
    assert!(said.starts_with(&format!("replayed 300 records of {input}")), "{said}");
    let copied = read_all(&middle, 2, Duration::from_secs(3));
    let expected: Vec<&Read> = original.iter().filter(|r| r.4 >= bounds[1] && r.4 < bounds[2]).collect();
    assert_eq!(expected.len(), 300);
    for p in 0..2 {
        let want: Vec<&Read> = expected.iter().copied().filter(|r| r.0 == p).collect();
        let got: Vec<&Read> = copied.iter().filter(|r| r.0 == p).collect();
        assert_eq!(got.len(), want.len(), "partition {p}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((&g.1, &g.2, g.4), (&w.1, &w.2, w.4), "key, value and timestamp kept");
            assert_eq!(g.3[..w.3.len()], w.3[..], "headers kept");
            let origin = String::from_utf8(g.3.last().unwrap().1.clone()).unwrap();
            assert_eq!(g.3.last().unwrap().0, "tickwatch-replay");
            assert!(origin.starts_with(&format!("{input}/{p}/")), "{origin}");
        }
    }
    assert!(copied.iter().all(|r| r.3[0].1 == b"round-1"), "nothing of the other rounds");

    // The whole history into the shadow topic: the window worker there builds the live bars.
    let said = replay(&input, bounds[0] - 60_000, bounds[3] + 1, &format!("{shadow}trades"));
    assert!(said.starts_with("replayed 900 records"), "{said}");
    let _shadow_worker = windows(&shadow, &cfg, "shadow");
    // Both workers close the last windows by the clock once idle.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (live_bars, shadow_bars) = (bars(&live, Duration::from_secs(3)), bars(&shadow, Duration::from_secs(3)));
    assert!(live_bars.len() >= 2 * (9 + 2), "{} live bars", live_bars.len());
    assert_eq!(live_bars.len(), shadow_bars.len());
    for (key, bar) in &live_bars {
        assert_eq!(Some(bar), shadow_bars.get(key), "bar {key:?}: every field but the emission time");
    }
    let trades: i64 = live_bars.values().filter(|k| k.interval == "5s").map(|k| k.trade_count).sum();
    assert_eq!(trades, 900, "every trade in exactly one 5 s bar");

    // A replay into its own source is refused before anything is read.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&stack().settings_path)
        .args(["replay", "--topic", &input, "--from", "0", "--to-topic", &input])
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("must differ"));
}

/// Trades stored in Parquet files under `folder` (rows, by reading every file).
async fn stored_rows(bucket: &Bucket, folder: &str) -> usize {
    let mut n = 0;
    for key in bucket.keys(folder).await.unwrap() {
        n += read_file::<Trade>(bucket.get(&key).await.unwrap()).unwrap().len();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parquet_history_replays_its_records_byte_for_byte_and_rebuilds_the_live_bars() {
    let s = stack();
    let b = s.broker();
    let prefix = unique("rpq");
    let Setup { live, shadow, input, id, cfg } = setup(&prefix).await;
    let _live_worker = windows(&live, &cfg, "live");

    // 600 trades, each instrument on its own partition, kept by the Parquet writer.
    for k in ["TICKWATCH_S3_ACCESS_KEY", "TICKWATCH_S3_SECRET_KEY"] {
        std::env::set_var(k, s.var(k).unwrap());
    }
    let sinks = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
    std::fs::write(&sinks, format!("parquet:\n  topics: [trades]\n  key_prefix: {prefix}/\n  idle_close_ms: 400\n"))
        .unwrap();
    let log = repo_root().join(format!("target/test-logs/{prefix}-parquet.log"));
    let mut writer = ChildGuard(
        Command::new(BIN)
            .arg("--config")
            .arg(&s.settings_path)
            .args(["sink", "parquet", "--sinks"])
            .arg(&sinks)
            .args(["--topic-prefix", &live, "--group", &format!("{live}parquet"), "--instance-id", "w0"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let producer = ReliableProducer::new(&b).unwrap();
    let t0_us = now_ms() * 1000;
    for i in 0..600u64 {
        let t = trade(i, t0_us);
        let value = wire::frame(id, &t.to_avro().unwrap());
        producer.send(&input, Some((i % 2) as i32), t.instrument.as_bytes(), Some(&value)).await.unwrap();
    }
    let bucket = Bucket::new(&s.settings.s3).unwrap();
    let folder = format!("{prefix}/");
    let deadline = Instant::now() + Duration::from_secs(90);
    while stored_rows(&bucket, &folder).await < 600 {
        assert!(Instant::now() < deadline, "the writer never stored 600 trades; log in {}", log.display());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    writer.terminate();
    let original = read_all(&input, 2, Duration::from_secs(3));
    assert_eq!(original.len(), 600);
    let url = format!("s3://{}/{prefix}/trades/", s.settings.s3.bucket);

    // One instrument over two seconds of event time: exactly its records, each as it was.
    let (from, to) = (t0_us / 1000 + 1_000, t0_us / 1000 + 3_000);
    let part = format!("{prefix}.part");
    let said = replay_with(&["--from-parquet", &url, "--instrument", "BTC-USDT"], from, to, &part);
    let in_range = |r: &&Read| {
        let (_, datum) = wire::unframe(&r.2).unwrap();
        let t = Trade::from_avro(datum).unwrap();
        t.instrument == "BTC-USDT" && (from * 1000..to * 1000).contains(&t.event_time_us)
    };
    let want: Vec<&Read> = original.iter().filter(in_range).collect();
    assert_eq!(want.len(), 100, "10 ms apart, every other one BTC-USDT");
    assert!(said.starts_with(&format!("replayed 100 records of s3://{}/", s.settings.s3.bucket)), "{said}");
    let got = read_all(&part, 1, Duration::from_secs(3));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((&g.1, &g.2), (&w.1, &w.2), "the key and the value, byte for byte");
        let (_, datum) = wire::unframe(&g.2).unwrap();
        assert_eq!(g.4, Trade::from_avro(datum).unwrap().event_time_us / 1000, "the event time on the broker");
        assert_eq!(g.3[0].0, "tickwatch-replay");
        assert_eq!(
            String::from_utf8(g.3[0].1.clone()).unwrap(),
            format!("{input}/{}/{}", w.0, offset_of(&original, w))
        );
    }

    // Everything into the shadow topic: per partition the original records in order, and the
    // window worker there builds the live bars.
    let said = replay_with(&["--from-parquet", &url], t0_us / 1000 - 60_000, now_ms() + 1, &format!("{shadow}trades"));
    assert!(said.starts_with("replayed 600 records"), "{said}");
    let copied = read_all(&format!("{shadow}trades"), 2, Duration::from_secs(3));
    for p in 0..2 {
        let values = |rs: &[Read]| rs.iter().filter(|r| r.0 == p).map(|r| r.2.clone()).collect::<Vec<_>>();
        assert_eq!(values(&copied), values(&original), "partition {p}: the same records in the same order");
    }
    let _shadow_worker = windows(&shadow, &cfg, "shadow");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (live_bars, shadow_bars) = (bars(&live, Duration::from_secs(3)), bars(&shadow, Duration::from_secs(3)));
    assert!(live_bars.len() >= 2 * (6 + 2), "{} live bars", live_bars.len());
    assert_eq!(live_bars, shadow_bars, "every bar, every field but the emission time");

    // A URL that is no dataset folder names the form it wants.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&s.settings_path)
        .args(["replay", "--from-parquet", &format!("s3://{}/{prefix}/", s.settings.s3.bucket)])
        .args(["--from", "0", "--to-topic", &part])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("trades|klines|reference_prices"));
}

/// The offset of `r` in its partition of `all` (read in order from offset 0).
fn offset_of(all: &[Read], r: &Read) -> usize {
    all.iter().filter(|x| x.0 == r.0).position(|x| x == r).unwrap()
}
