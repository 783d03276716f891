//! `tickwatch sink clickhouse` on the real broker, registry and ClickHouse:
//! - 22 SIGKILLs of the writer at random points while records keep arriving lose no row and
//!   leave none twice under `FINAL`; prices and sizes arrive exact, a corrected bar keeps its
//!   highest version, mark and index rows sharing an event time are both kept, and records
//!   that are not what their topic carries are kept in the quarantine table;
//! - ClickHouse killed for 60 s: nothing is committed while it is down, consumption pauses
//!   (memory bounded while 150 MB more arrive), and every row is there after it comes back.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_model::{
    wire, AvroRecord, Decimal, InstrumentKind, Kline, KlineVerification, QualityMinute, QuarantineRecord,
    ReferencePrice, TakerSide, Trade,
};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_testkit::market::okx_spot_trade;
use tickwatch_testkit::servers::{settings_with_clickhouse, OwnServer};
use tickwatch_testkit::{free_port, stack, unique, ChildGuard};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// Recent event times: the raw tables drop rows older than 7 days at merges.
fn trade(i: u64, base_us: i64) -> Trade {
    let instrument = ["BTC-USDT", "ETH-USDT", "SOL-USDT"][(i % 3) as usize];
    let trade = okx_spot_trade(
        instrument,
        (1_000_000 + i).to_string(),
        // 18 places, so that any rounding on the way would show.
        &format!("{}.{:018}", 100 + i % 7, i * 7_919 % 1_000_000_000_000_000_000),
        &format!("0.{:09}", i * 104_729 % 1_000_000_000 + 1),
        if i.is_multiple_of(2) { TakerSide::Buy } else { TakerSide::Sell },
        base_us + i as i64 * 7_001,
        2_000,
    );
    Trade { sequence: Some(i as i64), ..trade }
}

fn reference(i: u64, base_us: i64, mark: bool) -> ReferencePrice {
    let price: Decimal = format!("{}.{:03}", 60_000 + i, i % 1000).parse().unwrap();
    ReferencePrice {
        venue: "okx".into(),
        instrument: "BTC-USDT-PERP".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Perp,
        expiry_us: None,
        venue_symbol: "BTC-USDT-SWAP".into(),
        mark_price: mark.then_some(price),
        index_price: (!mark).then_some(price),
        funding_rate: None,
        next_funding_time_us: None,
        event_time_us: base_us + i as i64 * 1_000_000,
        receive_time_us: base_us + i as i64 * 1_000_000 + 5_000,
        source_lag_ms: 5,
    }
}

fn kline(i: u64, base_us: i64, version: i64) -> Kline {
    let open_time_us = base_us - base_us % 60_000_000 + i as i64 * 60_000_000;
    let d = |s: String| s.parse::<Decimal>().unwrap();
    Kline {
        venue: "okx".into(),
        instrument: "BTC-USDT".into(),
        interval: "1m".into(),
        open_time_us,
        close_time_us: open_time_us + 60_000_000,
        open: d(format!("100.{i}")),
        high: d(format!("101.{i}")),
        low: d(format!("99.{i}")),
        close: d(format!("100.{version}{i}")),
        volume: d(format!("{}.5", 10 + version)),
        quote_volume: d("1005.000000000000000001".into()),
        vwap: d("100.5".into()),
        trade_count: 10 + version,
        taker_buy_volume: d("4".into()),
        taker_buy_quote_volume: d("402".into()),
        first_trade_id: "1".into(),
        last_trade_id: "10".into(),
        version,
        verification: KlineVerification::Unverified,
        emitted_at_us: now_us(),
    }
}

fn quality(i: u64, base_us: i64) -> QualityMinute {
    QualityMinute {
        venue: "okx".into(),
        instrument: "BTC-USDT".into(),
        channel: "trades".into(),
        minute_us: base_us - base_us % 60_000_000 + i as i64 * 60_000_000,
        messages: 100 + i as i64,
        gaps: 1,
        lost_messages: Some(2),
        out_of_order: 0,
        duplicates: 0,
        reconnects: 1,
        resyncs: 0,
        quarantined: 0,
        max_silence_ms: 900,
        source_lag_p95_ms: Some(12.5),
    }
}

/// Produce framed values (key, value) to `topic`, waiting for every acknowledgement.
/// Produce `values` pipelined and wait for every acknowledgement. A record the broker refused
/// (Tansu sometimes answers a healthy idempotent producer with a sequence error, which kills
/// it) is sent again through the reliable producer, which replaces a dead producer; order
/// does not matter to these tests (rows are keyed).
async fn send(producer: &ReliableProducer, topic: &str, values: &[(String, Vec<u8>)]) {
    for chunk in values.chunks(2_000) {
        let client = producer.client();
        let deliveries: Vec<_> = chunk
            .iter()
            .map(|(key, value)| {
                let record = FutureRecord::to(topic).key(key.as_bytes()).payload(value);
                client.send_result(record).map_err(|(e, _)| e).unwrap()
            })
            .collect();
        let mut refused = Vec::new();
        for (d, (key, value)) in deliveries.into_iter().zip(chunk) {
            if !matches!(d.await, Ok(Ok(_))) {
                refused.push((key, value));
            }
        }
        for (key, value) in refused {
            producer.send(topic, None, key.as_bytes(), Some(value)).await.expect("resent through a new producer");
        }
    }
}

fn framed<T: AvroRecord>(id: u32, key: &str, records: &[T]) -> Vec<(String, Vec<u8>)> {
    records.iter().map(|r| (key.to_string(), wire::frame(id, &r.to_avro().unwrap()))).collect()
}

/// Everything a test needs: its topics, registered schemas, settings and sink file.
struct Bench {
    prefix: String,
    settings_path: PathBuf,
    sinks_path: PathBuf,
    clickhouse: ClickHouse,
    producer: ReliableProducer,
    ids: HashMap<&'static str, u32>,
    /// The writer's /metrics address.
    metrics_listen: String,
}

impl Bench {
    async fn new(
        name: &str,
        clickhouse_url: &str,
        database: &str,
        topics: &[(&'static str, i32)],
        sink: &str,
    ) -> Bench {
        let s = stack();
        let prefix = unique(name);
        let settings_path = settings_with_clickhouse(s, clickhouse_url, database);
        let out = Command::new(BIN).arg("--config").arg(&settings_path).arg("migrate").output().unwrap();
        assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
        let specs: Vec<TopicSpec> = topics
            .iter()
            .map(|(t, p)| TopicSpec { name: format!("{prefix}.{t}"), partitions: *p, replication: 1, configs: vec![] })
            .collect();
        broker::create_topics(&s.broker(), &specs).await.unwrap();
        let registry = RegistryClient::new(&s.settings.registry.url);
        let mut ids = HashMap::new();
        for (topic, _) in topics {
            let schema = match *topic {
                "trades" => Trade::SCHEMA_JSON,
                "reference" => ReferencePrice::SCHEMA_JSON,
                "kline.1m" => Kline::SCHEMA_JSON,
                "dq.minute" => QualityMinute::SCHEMA_JSON,
                _ => QuarantineRecord::SCHEMA_JSON,
            };
            ids.insert(*topic, registry.register(&format!("{prefix}.{topic}-value"), schema).await.unwrap());
        }
        let sinks_path = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
        std::fs::write(&sinks_path, sink).unwrap();
        let settings = Settings::load(&settings_path).unwrap();
        Bench {
            prefix,
            settings_path,
            sinks_path,
            clickhouse: ClickHouse::new(&settings.clickhouse),
            producer: ReliableProducer::new(&s.broker()).unwrap(),
            ids,
            metrics_listen: format!("127.0.0.1:{}", free_port()),
        }
    }

    /// A value of the writer's /metrics: the sample whose name and labels start with `series`.
    async fn metric(&self, series: &str) -> Option<f64> {
        let text = reqwest::get(format!("http://{}/metrics", self.metrics_listen)).await.ok()?.text().await.ok()?;
        text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    fn topic(&self, t: &str) -> String {
        format!("{}.{t}", self.prefix)
    }

    fn log(&self) -> PathBuf {
        std::env::temp_dir().join(format!("{}-sink.log", self.prefix))
    }

    fn sink(&self) -> ChildGuard {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log()).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&self.settings_path)
            .args(["sink", "clickhouse", "--sinks"])
            .arg(&self.sinks_path)
            .args(["--topic-prefix", &format!("{}.", self.prefix), "--group", &format!("{}-sink", self.prefix)])
            .args(["--instance-id", "writer-0", "--metrics-listen", &self.metrics_listen])
            .env("RUST_LOG", "info,tickwatch_sink_clickhouse=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tickwatch sink clickhouse starts");
        ChildGuard(child)
    }

    async fn count(&self, sql: &str) -> u64 {
        match self.clickhouse.query_rows(sql).await {
            Ok(rows) => int(&rows[0]["n"]) as u64,
            Err(_) => 0,
        }
    }

    /// Wait until every query counts what it should.
    async fn wait_for(&self, expected: &[(&str, u64)], secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let mut got = Vec::new();
            for (sql, _) in expected {
                got.push(self.count(sql).await);
            }
            if expected.iter().zip(&got).all(|((_, want), have)| have == want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "after {secs} s: {got:?}, expected {:?}\n{}",
                expected.iter().map(|e| e.1).collect::<Vec<_>>(),
                std::fs::read_to_string(self.log()).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The group's committed offsets of `topic` (partitions 0..n), summed.
    fn committed(&self, topic: &str, partitions: i32) -> i64 {
        let c: BaseConsumer =
            broker::client_config(&stack().broker()).set("group.id", format!("{}-sink", self.prefix)).create().unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(&self.topic(topic), p);
        }
        let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
        got.elements().iter().map(|e| if let Offset::Offset(o) = e.offset() { o } else { 0 }).sum()
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A 64-bit integer, quoted or not (ClickHouse's JSON quotes them by default).
fn int(v: &serde_json::Value) -> i64 {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap()
}

fn dec(v: &serde_json::Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_two_kills_lose_no_row_and_final_has_no_duplicate() {
    let s = stack();
    let db = unique("sinkdb").replace('-', "_");
    let topics = [("trades", 3), ("reference", 1), ("kline.1m", 1), ("dq.minute", 1), ("trades.quarantine", 1)];
    let sink = "clickhouse:\n  topics: [trades, reference, kline.1m, dq.minute, trades.quarantine]\n  \
                batch_rows: 300\n  batch_ms: 100\n  retry_max_ms: 2000\n";
    let bench = Bench::new("chs", &s.settings.clickhouse.url, &db, &topics, sink).await;
    let base = now_us() - 30 * 60_000_000;
    let mut rng = fastrand::Rng::with_seed(22);
    let rounds = 22u64;
    let mut garbage = Vec::new();
    for round in 0..rounds {
        let trades: Vec<Trade> = (round * 1_000..(round + 1) * 1_000).map(|i| trade(i, base)).collect();
        send(&bench.producer, &bench.topic("trades"), &framed(bench.ids["trades"], "k", &trades)).await;
        // Mark and index of the same instrument at the same event time: two rows.
        let refs: Vec<ReferencePrice> = (round * 10..(round + 1) * 10)
            .flat_map(|i| [reference(i, base, true), reference(i, base, false)])
            .collect();
        send(&bench.producer, &bench.topic("reference"), &framed(bench.ids["reference"], "r", &refs)).await;
        // A new bar each round, and a correction (version 2) of the previous round's bar.
        let mut bars = vec![kline(round, base, 1)];
        if round > 0 {
            bars.push(kline(round - 1, base, 2));
        }
        send(&bench.producer, &bench.topic("kline.1m"), &framed(bench.ids["kline.1m"], "b", &bars)).await;
        send(&bench.producer, &bench.topic("dq.minute"), &framed(bench.ids["dq.minute"], "q", &[quality(round, base)]))
            .await;
        if round % 5 == 0 {
            // Not a trade: kept in the quarantine table, not lost, not blocking.
            let junk = format!("not avro, round {round}").into_bytes();
            send(&bench.producer, &bench.topic("trades"), &[("junk".into(), junk.clone())]).await;
            garbage.push(junk);
        }
        // Killed at a random moment once it is writing (rows arriving), so kills land
        // between reads, inserts and commits.
        let written = bench.count("SELECT count() AS n FROM trades").await;
        let mut w = bench.sink();
        let deadline = Instant::now() + Duration::from_secs(60);
        while bench.count("SELECT count() AS n FROM trades").await == written {
            assert!(Instant::now() < deadline, "round {round}: the writer wrote nothing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..400))).await;
        w.0.kill().unwrap();
        w.0.wait().unwrap();
    }
    let n_trades = rounds * 1_000;
    let mut w = bench.sink();
    bench
        .wait_for(
            &[
                ("SELECT count() AS n FROM trades FINAL", n_trades),
                ("SELECT count() AS n FROM reference_prices FINAL", rounds * 20),
                ("SELECT count() AS n FROM klines FINAL", rounds),
                ("SELECT count() AS n FROM klines FINAL WHERE version = 2", rounds - 1),
                ("SELECT count() AS n FROM data_quality_minute FINAL", rounds),
                ("SELECT count() AS n FROM quarantine FINAL", garbage.len() as u64),
            ],
            180,
        )
        .await;
    w.terminate();
    // The kills did interrupt work: some rows were written more than once, and FINAL (the
    // natural key) keeps one of each.
    // Rows inserted, from the writer's own log (background merges fold repeats away, so the
    // table cannot tell): more than there are trades means kills fell between an insert and
    // its commit, and the replay wrote those rows again.
    let log = std::fs::read_to_string(bench.log()).unwrap();
    let inserted: u64 = log
        .lines()
        .filter(|l| l.contains("inserted") && l.contains("table=\"trades\""))
        .filter_map(|l| l.split("rows=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
        .sum();
    eprintln!("{n_trades} trades; {inserted} trade rows inserted over {rounds} kills");
    assert!(inserted > n_trades, "no kill fell between an insert and its commit; the test proved nothing");
    assert_eq!(bench.count("SELECT uniqExact(trade_id) AS n FROM trades FINAL").await, n_trades);
    // Exact decimals, every trade.
    let rows = bench
        .clickhouse
        .query_rows("SELECT trade_id, toString(price) AS p, toString(size) AS s, toUnixTimestamp64Micro(event_time) AS t FROM trades FINAL")
        .await
        .unwrap();
    let by_id: HashMap<String, &serde_json::Value> =
        rows.iter().map(|r| (r["trade_id"].as_str().unwrap().to_string(), r)).collect();
    for i in 0..n_trades {
        let t = trade(i, base);
        let r = by_id.get(&t.trade_id).unwrap_or_else(|| panic!("trade {} missing", t.trade_id));
        assert_eq!((dec(&r["p"]), dec(&r["s"])), (t.price, t.size), "trade {}", t.trade_id);
        assert_eq!(int(&r["t"]), t.event_time_us);
    }
    // The corrected bars kept their highest version's content.
    let bars = bench
        .clickhouse
        .query_rows("SELECT version, toString(close) AS c, trade_count FROM klines FINAL ORDER BY open_time")
        .await
        .unwrap();
    for (i, b) in bars.iter().enumerate() {
        let want = kline(i as u64, base, if (i as u64) < rounds - 1 { 2 } else { 1 });
        assert_eq!(dec(&b["c"]), want.close, "bar {i}");
    }
    let q = bench
        .clickhouse
        .query_rows("SELECT reason, rule, original_value FROM quarantine FINAL ORDER BY source_offset")
        .await
        .unwrap();
    for (row, junk) in q.iter().zip(&garbage) {
        assert_eq!((row["reason"].as_str(), row["rule"].as_str()), (Some("undecodable"), Some("clickhouse-sink")));
        assert_eq!(row["original_value"].as_str().unwrap().as_bytes(), junk.as_slice());
    }
    assert_eq!(bench.committed("trades", 3), n_trades as i64 + garbage.len() as i64, "every record committed");
    let _ = bench.clickhouse.execute(&format!("DROP DATABASE IF EXISTS `{db}`")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_60_second_clickhouse_outage_loses_nothing_and_pauses_consumption() {
    let s = stack();
    let mut server = OwnServer::clickhouse(s, Path::new(BIN));
    let topics = [("trades", 3), ("trades.quarantine", 1)];
    let sink = "clickhouse:\n  topics: [trades, trades.quarantine]\n  batch_rows: 200\n  batch_ms: 200\n  retry_max_ms: 2000\n";
    let bench = Bench::new("cho", &server.url(), "tickwatch", &topics, sink).await;
    let base = now_us() - 10 * 60_000_000;
    let before: Vec<Trade> = (0..2_000).map(|i| trade(i, base)).collect();
    send(&bench.producer, &bench.topic("trades"), &framed(bench.ids["trades"], "k", &before)).await;
    let mut w = bench.sink();
    bench.wait_for(&[("SELECT count() AS n FROM trades FINAL", 2_000)], 60).await;
    // Let the last batch's commit land.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let committed_before = bench.committed("trades", 3);
    assert_eq!(committed_before, 2_000);
    let rss_before = rss_kib(w.0.id());

    server.kill();
    let outage = Instant::now();
    // While it is down: 3 000 more trades and 1 500 quarantine records of 100 KB (150 MB).
    let blob = vec![b'x'; 100 * 1024];
    let mut sent_trades = 2_000u64;
    let mut sent_blobs = 0u64;
    let mut rss_peak = rss_before;
    while outage.elapsed() < Duration::from_secs(60) {
        if sent_trades < 5_000 {
            let more: Vec<Trade> = (sent_trades..sent_trades + 100).map(|i| trade(i, base)).collect();
            send(&bench.producer, &bench.topic("trades"), &framed(bench.ids["trades"], "k", &more)).await;
            sent_trades += 100;
        }
        if sent_blobs < 1_500 {
            let blobs: Vec<QuarantineRecord> = (sent_blobs..sent_blobs + 50)
                .map(|i| QuarantineRecord {
                    source_topic: "raw.trades".into(),
                    source_partition: 0,
                    source_offset: i as i64,
                    original_key: None,
                    original_value: blob.clone(),
                    reason: "schema".into(),
                    rule: "test".into(),
                    detail: format!("blob {i}"),
                    venue: Some("okx".into()),
                    instrument: None,
                    quarantined_at_us: now_us(),
                })
                .collect();
            send(
                &bench.producer,
                &bench.topic("trades.quarantine"),
                &framed(bench.ids["trades.quarantine"], "q", &blobs),
            )
            .await;
            sent_blobs += 50;
        }
        rss_peak = rss_peak.max(rss_kib(w.0.id()));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!((sent_trades, sent_blobs), (5_000, 1_500), "the outage traffic was sent");
    assert_eq!(bench.committed("trades", 3), committed_before, "nothing committed while ClickHouse was down");
    assert!(w.0.try_wait().unwrap().is_none(), "the writer waits for ClickHouse instead of exiting");
    let growth_mib = (rss_peak.saturating_sub(rss_before)) / 1024;
    eprintln!(
        "writer RSS {} MiB before the outage, peak growth {growth_mib} MiB while 150 MB arrived",
        rss_before / 1024
    );
    assert!(growth_mib < 100, "the writer held what it could not write: +{growth_mib} MiB");

    server.restart();
    bench
        .wait_for(
            &[("SELECT count() AS n FROM trades FINAL", 5_000), ("SELECT count() AS n FROM quarantine FINAL", 1_500)],
            180,
        )
        .await;
    // The writer's metrics: every acknowledged row once (no insert was acknowledged twice:
    // no kill here), the quarantined records by source topic and reason, and each trade's
    // latency from its receipt (ten minutes before it was sent) to its row acknowledged.
    let until = Instant::now() + Duration::from_secs(10);
    while bench.metric("sink_rows_written_total{table=\"quarantine\"}").await != Some(1_500.0) {
        assert!(Instant::now() < until, "the writer's /metrics never counted the 1 500 quarantine rows");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(bench.metric("sink_rows_written_total{table=\"trades\"}").await, Some(5_000.0));
    assert_eq!(bench.metric("dq_drop_counter_total{topic=\"raw.trades\",reason=\"schema\"}").await, Some(1_500.0));
    assert_eq!(bench.metric("event_end2end_latency_ms_count{table=\"trades\",venue=\"okx\"}").await, Some(5_000.0));
    assert_eq!(
        bench.metric("event_end2end_latency_ms_bucket{table=\"trades\",venue=\"okx\",le=\"60000\"}").await,
        Some(0.0)
    );
    let consumed = bench.metric(&format!("consumer_records_total{{topic=\"{}\"}}", bench.topic("trades"))).await;
    assert!(consumed.is_some_and(|n| n >= 5_000.0), "records read: {consumed:?}");
    // Every partition the writer read (the test's trades share one key, so one partition)
    // is read to its end.
    let scraped = reqwest::get(format!("http://{}/metrics", bench.metrics_listen)).await.unwrap().text().await.unwrap();
    let lag_prefix = format!("consumer_lag_records{{topic=\"{}\",", bench.topic("trades"));
    let lags: Vec<&str> = scraped.lines().filter(|l| l.starts_with(&lag_prefix)).collect();
    assert!(!lags.is_empty() && lags.iter().all(|l| l.ends_with("} 0")), "lag of the trades partitions:\n{scraped}");
    let health = reqwest::get(format!("http://{}/healthz", bench.metrics_listen)).await.unwrap();
    assert!(health.status().is_success());
    w.terminate();
    assert_eq!(bench.count("SELECT uniqExact(trade_id) AS n FROM trades FINAL").await, 5_000);
    assert_eq!(bench.committed("trades", 3), 5_000, "committed once ClickHouse took the rows");
    let log = std::fs::read_to_string(bench.log()).unwrap();
    assert!(log.contains("ClickHouse insert failed"), "the outage was logged:\n{log}");
    assert!(log.contains("ClickHouse insert succeeded; resuming"), "and the recovery:\n{log}");
}
