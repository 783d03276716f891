//! `tickwatch sink parquet` on the real broker, registry, S3 server and ClickHouse:
//! - trades over two hours, k-lines and reference prices, through four SIGKILLs of the writer
//!   while it stores files: every record is in exactly one file, in the documented layout,
//!   with exact decimals; ClickHouse's `s3()` over the files returns the same trades as the
//!   hot table the ClickHouse writer filled from the same topic;
//! - S3 killed for 15 s: nothing is lost, nothing is stored twice, the files come after it.

use arrow_array::{Array, Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rdkafka::producer::FutureRecord;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_model::{wire, AvroRecord, Decimal, Kline, KlineVerification, ReferencePrice, TakerSide, Trade};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_sink_parquet::store::Bucket;
use tickwatch_testkit::market::{okx_btc_perp_prices, okx_spot_trade};
use tickwatch_testkit::servers::{settings_with_clickhouse, OwnServer};
use tickwatch_testkit::{stack, unique, ChildGuard};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// Trades spread over two hours of recent event time, two instruments.
fn trade(i: u64, base_us: i64) -> Trade {
    let instrument = ["BTC-USDT", "ETH-USDT"][(i % 2) as usize];
    okx_spot_trade(
        instrument,
        (5_000_000 + i).to_string(),
        &format!("{}.{:018}", 2_000 + i % 13, i * 7_919 % 1_000_000_000_000_000_000),
        &format!("0.{:09}", i * 104_729 % 1_000_000_000 + 1),
        if i.is_multiple_of(3) { TakerSide::Sell } else { TakerSide::Buy },
        base_us + i as i64 * 1_200_000,
        1_500,
    )
}

fn kline(i: u64, base_us: i64) -> Kline {
    let open_time_us = base_us - base_us % 60_000_000 + i as i64 * 60_000_000;
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    Kline {
        venue: "okx".into(),
        instrument: "BTC-USDT".into(),
        interval: "1m".into(),
        open_time_us,
        close_time_us: open_time_us + 60_000_000,
        open: d("100.000000000000000001"),
        high: d("101"),
        low: d("99"),
        close: d("100.5"),
        volume: d("12.5"),
        quote_volume: d("1256.25"),
        vwap: d("100.5"),
        trade_count: 9,
        taker_buy_volume: d("4"),
        taker_buy_quote_volume: d("402"),
        first_trade_id: "1".into(),
        last_trade_id: "9".into(),
        version: 1,
        verification: KlineVerification::Unverified,
        emitted_at_us: now_us(),
    }
}

fn reference(i: u64, base_us: i64) -> ReferencePrice {
    let mark = Some(format!("60000.{i}").parse().unwrap());
    ReferencePrice {
        funding_rate: Some("0.0001".parse().unwrap()),
        next_funding_time_us: Some(base_us + 8 * 3_600_000_000),
        ..okx_btc_perp_prices(mark, None, base_us + i as i64 * 30_000_000, 1_000)
    }
}

async fn send<T: AvroRecord>(producer: &ReliableProducer, topic: &str, id: u32, records: &[T]) {
    let values: Vec<Vec<u8>> = records.iter().map(|r| wire::frame(id, &r.to_avro().unwrap())).collect();
    let deliveries: Vec<_> = values
        .iter()
        .map(|v| {
            producer.client().send_result(FutureRecord::<[u8], _>::to(topic).payload(v)).map_err(|(e, _)| e).unwrap()
        })
        .collect();
    // A delivery Tansu refuses or lets time out goes again through the reliable path (a
    // fresh producer after a fatal error), as the stages' own producers do.
    let mut refused = Vec::new();
    for (d, v) in deliveries.into_iter().zip(&values) {
        if !matches!(d.await, Ok(Ok(_))) {
            refused.push(v);
        }
    }
    for v in refused {
        producer.send(topic, None, b"", Some(v)).await.expect("resent through the reliable path");
    }
}

/// One trade row read back from a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    trade_id: String,
    price: i128,
    size: i128,
    event_time_us: i64,
    source_offset: i64,
}

/// Every file under `prefix`: its key and, for trades files, the rows.
async fn read_files(bucket: &Bucket, prefix: &str) -> (Vec<String>, Vec<Row>, usize) {
    let keys = bucket.keys(prefix).await.unwrap();
    let mut rows = Vec::new();
    let mut other_rows = 0;
    for key in &keys {
        let body = bytes::Bytes::from(bucket.get(key).await.unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(body).unwrap().build().unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            if !key.contains("/trades/") {
                other_rows += batch.num_rows();
                continue;
            }
            let col = |name: &str| batch.column_by_name(name).unwrap_or_else(|| panic!("column {name}")).clone();
            let ids = col("trade_id");
            let ids = ids.as_any().downcast_ref::<StringArray>().unwrap();
            let price = col("price");
            let price = price.as_any().downcast_ref::<Decimal128Array>().unwrap();
            let size = col("size");
            let size = size.as_any().downcast_ref::<Decimal128Array>().unwrap();
            let time = col("event_time");
            let time = time.as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
            let offset = col("source_offset");
            let offset = offset.as_any().downcast_ref::<Int64Array>().unwrap();
            assert_eq!((price.precision(), price.scale()), (38, 18), "exact decimal(38, 18)");
            for r in 0..batch.num_rows() {
                rows.push(Row {
                    trade_id: ids.value(r).to_string(),
                    price: price.value(r),
                    size: size.value(r),
                    event_time_us: time.value(r),
                    source_offset: offset.value(r),
                });
            }
        }
    }
    (keys, rows, other_rows)
}

struct Run {
    prefix: String,
    settings_path: PathBuf,
    sinks_path: PathBuf,
    settings: Settings,
    producer: ReliableProducer,
    ids: BTreeMap<&'static str, u32>,
}

impl Run {
    async fn new(name: &str, settings_path: PathBuf, sinks: impl Fn(&str) -> String) -> Run {
        let s = stack();
        let prefix = unique(name);
        let topics = [("trades", 2), ("kline.1m", 1), ("reference", 1)];
        let specs: Vec<TopicSpec> = topics
            .iter()
            .map(|(t, p)| TopicSpec { name: format!("{prefix}.{t}"), partitions: *p, replication: 1, configs: vec![] })
            .collect();
        broker::create_topics(&s.broker(), &specs).await.unwrap();
        let registry = RegistryClient::new(&s.settings.registry.url);
        let mut ids = BTreeMap::new();
        for (topic, schema) in [
            ("trades", Trade::SCHEMA_JSON),
            ("kline.1m", Kline::SCHEMA_JSON),
            ("reference", ReferencePrice::SCHEMA_JSON),
        ] {
            ids.insert(topic, registry.register(&format!("{prefix}.{topic}-value"), schema).await.unwrap());
        }
        let sinks_path = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
        std::fs::write(&sinks_path, sinks(&prefix)).unwrap();
        let settings = Settings::load(&settings_path).unwrap();
        // The writer and the test's own reads take the keys from the environment.
        for k in ["TICKWATCH_S3_ACCESS_KEY", "TICKWATCH_S3_SECRET_KEY"] {
            std::env::set_var(k, s.var(k).unwrap());
        }
        Run { prefix, settings_path, sinks_path, settings, producer: ReliableProducer::new(&s.broker()).unwrap(), ids }
    }

    fn log(&self, writer: &str) -> PathBuf {
        std::env::temp_dir().join(format!("{}-{writer}.log", self.prefix))
    }

    fn writer(&self, writer: &str) -> ChildGuard {
        self.writer_in(writer, &format!("{}-{writer}", self.prefix))
    }

    fn writer_in(&self, writer: &str, group: &str) -> ChildGuard {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log(writer)).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&self.settings_path)
            .args(["sink", writer, "--sinks"])
            .arg(&self.sinks_path)
            .args(["--topic-prefix", &format!("{}.", self.prefix), "--group", group])
            .args(["--instance-id", "w0"])
            .env("RUST_LOG", "info,tickwatch_sink_parquet=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        ChildGuard(child)
    }

    async fn produce_trades(&self, range: std::ops::Range<u64>, base: i64) {
        let trades: Vec<Trade> = range.map(|i| trade(i, base)).collect();
        send(&self.producer, &format!("{}.trades", self.prefix), self.ids["trades"], &trades).await;
    }
}

/// The records `group` has committed on the test's three topics.
fn committed(group: &str, prefix: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = broker::client_config(&stack().broker()).set("group.id", group).create().unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for (topic, partition) in [("trades", 0), ("trades", 1), ("kline.1m", 0), ("reference", 0)] {
        tpl.add_partition(&format!("{prefix}.{topic}"), partition);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    got.elements().iter().map(|e| if let rdkafka::Offset::Offset(o) = e.offset() { o } else { 0 }).sum()
}

/// Wait until the files under `prefix` hold `trades` trade rows (and `others` other rows).
async fn wait_rows(bucket: &Bucket, prefix: &str, trades: usize, others: usize, log: &Path) -> (Vec<String>, Vec<Row>) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (keys, rows, other) = read_files(bucket, prefix).await;
        if rows.len() >= trades && other >= others {
            return (keys, rows);
        }
        assert!(
            Instant::now() < deadline,
            "{} of {trades} trades, {other} of {others} other rows in files\n{}",
            rows.len(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn assert_each_once(rows: &[Row], n: u64, base: i64) {
    let mut seen = HashSet::new();
    for r in rows {
        assert!(seen.insert(r.trade_id.clone()), "trade {} stored twice", r.trade_id);
    }
    assert_eq!(rows.len() as u64, n, "every trade stored");
    for r in rows {
        let i: u64 = r.trade_id.parse::<u64>().unwrap() - 5_000_000;
        let t = trade(i, base);
        assert_eq!(
            (r.price, r.size, r.event_time_us),
            (t.price.units(), t.size.units(), t.event_time_us),
            "{}",
            r.trade_id
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn files_hold_every_record_once_through_kills_and_read_like_the_hot_table() {
    let s = stack();
    let db = unique("pqdb").replace('-', "_");
    let settings_path = settings_with_clickhouse(s, &s.settings.clickhouse.url, &db);
    let out = Command::new(BIN).arg("--config").arg(&settings_path).arg("migrate").output().unwrap();
    assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    let run = Run::new("pq", settings_path, |prefix| {
        format!(
            "clickhouse:\n  topics: [trades]\n  batch_rows: 1000\n  batch_ms: 200\n\
             parquet:\n  topics: [trades, kline.1m, reference]\n  key_prefix: {prefix}/\n  close_after_ms: 60000\n  \
             max_file_rows: 700\n  idle_close_ms: 400\n  max_open_rows: 5000\n  retry_max_ms: 2000\n"
        )
    })
    .await;
    let bucket = Bucket::new(&run.settings.s3).unwrap();
    let folder = format!("{}/", run.prefix);
    let base = now_us() - 3 * 3_600_000_000;
    let n = 6_000u64; // 2 h of event time: 1.2 s apart
    let klines: Vec<Kline> = (0..30).map(|i| kline(i, base)).collect();
    send(&run.producer, &format!("{}.kline.1m", run.prefix), run.ids["kline.1m"], &klines).await;
    let refs: Vec<ReferencePrice> = (0..40).map(|i| reference(i, base)).collect();
    send(&run.producer, &format!("{}.reference", run.prefix), run.ids["reference"], &refs).await;
    let mut rng = fastrand::Rng::with_seed(4);
    for round in 0..4u64 {
        run.produce_trades(round * n / 4..(round + 1) * n / 4, base).await;
        let before = bucket.keys(&folder).await.unwrap().len();
        let mut w = run.writer("parquet");
        let deadline = Instant::now() + Duration::from_secs(90);
        while bucket.keys(&folder).await.unwrap().len() == before {
            assert!(Instant::now() < deadline, "round {round}: no file stored");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..300))).await;
        w.0.kill().unwrap();
        w.0.wait().unwrap();
    }
    let mut w = run.writer("parquet");
    let mut hot = run.writer("clickhouse");
    let (keys, rows) = wait_rows(&bucket, &folder, n as usize, 70, &run.log("parquet")).await;
    w.terminate();
    assert_each_once(&rows, n, base);
    let log = std::fs::read_to_string(run.log("parquet")).unwrap();
    let runs = log.matches("Parquet writer running").count();
    assert_eq!(runs, 5, "four kills and a last run");
    // Files were cut by size and by hour, in the documented layout.
    let trade_files: Vec<&String> = keys.iter().filter(|k| k.contains("/trades/")).collect();
    assert!(trade_files.len() >= (n as usize / 700), "{} trade files", trade_files.len());
    for k in &trade_files {
        let rest = k.strip_prefix(&format!("{}/trades/dt=", run.prefix)).unwrap_or_else(|| panic!("{k}"));
        assert!(
            rest.contains("/venue=okx/instrument=BTC-USDT/") || rest.contains("/venue=okx/instrument=ETH-USDT/"),
            "{k}"
        );
        assert!(k.ends_with(".parquet") && k.contains(&format!("-{}.trades-p", run.prefix)), "{k}");
    }
    assert!(keys.iter().any(|k| k.contains("/klines/dt=")) && keys.iter().any(|k| k.contains("/reference_prices/dt=")));

    // A rerun of everything (a new group reads from the first offset) stores nothing again:
    // each record is found in a stored file and skipped.
    let mut again = run.writer_in("parquet", &format!("{}-rerun", run.prefix));
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_to_string(run.log("parquet")).unwrap().matches("Parquet writer running").count() < 6 {
        assert!(Instant::now() < deadline, "the rerun did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Read to the end: the rerun's group has committed every record.
    let rerun_group = format!("{}-rerun", run.prefix);
    while committed(&rerun_group, &run.prefix) < (n + 70) as i64 {
        assert!(Instant::now() < deadline, "the rerun did not read everything");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    again.terminate();
    let log = std::fs::read_to_string(run.log("parquet")).unwrap();
    let last = log.lines().rfind(|l| l.contains("Parquet writer stopped")).unwrap();
    assert!(last.contains(&format!("skipped={}", n + 70)), "the rerun skipped every record: {last}");
    let (keys_after, rows_after, _) = read_files(&bucket, &folder).await;
    assert_eq!((keys_after.len(), rows_after.len()), (keys.len(), rows.len()), "the rerun stored nothing new");

    // The same trades through ClickHouse: the hot table and s3() over the files agree.
    let ch = ClickHouse::new(&run.settings.clickhouse);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rows = ch.query_rows("SELECT count() AS n FROM trades FINAL").await.unwrap_or_default();
        if rows.first().and_then(|r| r["n"].as_str().map(String::from).or(r["n"].as_u64().map(|n| n.to_string())))
            == Some(n.to_string())
        {
            break;
        }
        assert!(Instant::now() < deadline, "hot table: {rows:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    hot.terminate();
    let s3_url = format!("{}/{}/{}/trades/**/*.parquet", run.settings.s3.endpoint, run.settings.s3.bucket, run.prefix);
    let cols = "trade_id, toString(price) AS p, toString(size) AS s, toString(event_time) AS t, venue, instrument";
    let cold = ch
        .query_rows(&format!(
            "SELECT {cols} FROM s3('{s3_url}', '{}', '{}', 'Parquet') ORDER BY trade_id",
            s.var("TICKWATCH_S3_ACCESS_KEY").unwrap(),
            s.var("TICKWATCH_S3_SECRET_KEY").unwrap()
        ))
        .await
        .unwrap();
    let hot_rows = ch.query_rows(&format!("SELECT {cols} FROM trades FINAL ORDER BY trade_id")).await.unwrap();
    assert_eq!(cold.len(), n as usize);
    assert_eq!(cold, hot_rows, "s3() over the Parquet files equals the hot table");
    let _ = ch.execute(&format!("DROP DATABASE IF EXISTS `{db}`")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_outage_delays_the_files_and_loses_nothing() {
    let s = stack();
    let mut server = OwnServer::s3(s, &s.settings.s3.bucket);
    let text = std::fs::read_to_string(&s.settings_path).unwrap().replace(&s.settings.s3.endpoint, &server.url());
    let settings_path = std::env::temp_dir().join(format!("{}.yaml", unique("tw-settings")));
    std::fs::write(&settings_path, text).unwrap();
    let run = Run::new("pqo", settings_path, |prefix| {
        format!(
            "parquet:\n  topics: [trades]\n  key_prefix: {prefix}/\n  max_file_rows: 400\n  idle_close_ms: 300\n  \
             retry_max_ms: 1000\n"
        )
    })
    .await;
    let bucket = Bucket::new(&run.settings.s3).unwrap();
    let folder = format!("{}/", run.prefix);
    let base = now_us() - 2 * 3_600_000_000;
    run.produce_trades(0..1_000, base).await;
    let mut w = run.writer("parquet");
    wait_rows(&bucket, &folder, 1_000, 0, &run.log("parquet")).await;

    server.kill();
    run.produce_trades(1_000..3_000, base).await;
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(w.0.try_wait().unwrap().is_none(), "the writer waits for S3 instead of exiting");
    server.restart();
    let (_, rows) = wait_rows(&bucket, &folder, 3_000, 0, &run.log("parquet")).await;
    w.terminate();
    assert_each_once(&rows, 3_000, base);
    let log = std::fs::read_to_string(run.log("parquet")).unwrap();
    assert!(log.contains("S3 upload failed") || log.contains("S3 listing failed"), "the outage was logged:\n{log}");
    assert!(log.contains("succeeded; resuming"), "and the recovery:\n{log}");
}
