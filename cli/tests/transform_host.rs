//! `tickwatch transform run` with the real `tw-trades.wasm`, the real broker and registry:
//! raw trades in, exact normalized trades and quarantine records out, each output partition in
//! its input partition's order, and a SIGKILL of the host in mid-stream that loses nothing
//! (duplicates only as at-least-once repeats of the same record); the host's metrics read
//! directly and through the stack's Prometheus.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_model::{wire, AvroRecord, QuarantineRecord, RawTrade, TakerSide, Trade};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_testkit::prometheus::{query_value, wait_for_value, ScrapeTarget};
use tickwatch_testkit::{free_port, repo_root, stack, unique, ChildGuard};

const SYMBOLS: [&str; 3] = ["NKNUSDT", "LRCBTC", "BLZETH"];

fn spawn_host(prefix: &str, metrics_port: u16) -> ChildGuard {
    let wasm = repo_root().join("target/wasm32-wasip1/wasm/tw-trades.wasm");
    assert!(wasm.exists(), "{} is missing: run `make transforms` first", wasm.display());
    let child = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .arg("--config")
        .arg(&stack().settings_path)
        .args(["transform", "run", "--wasm"])
        .arg(&wasm)
        .args(["--input", &format!("{prefix}.raw.trades")])
        .args(["--output", &format!("{prefix}.trades"), "--output", &format!("{prefix}.raw.trades.quarantine")])
        .args(["--group", &format!("{prefix}-host"), "--batch-max", "50"])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tickwatch transform run starts");
    ChildGuard(child)
}

fn reader(prefix: &str) -> BaseConsumer {
    let b = stack().broker();
    let c: BaseConsumer = broker::client_config(&b).set("group.id", unique("reader")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(&format!("{prefix}.trades"), p, Offset::Beginning).unwrap();
    }
    tpl.add_partition_offset(&format!("{prefix}.raw.trades.quarantine"), 0, Offset::Beginning).unwrap();
    for p in 0..3 {
        tpl.add_partition_offset(&format!("{prefix}.raw.trades"), p, Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
    c
}

#[derive(Default)]
struct Seen {
    clean: BTreeMap<String, Vec<Vec<u8>>>,
    quarantined: BTreeMap<i64, String>,
    /// Each raw trade's offset in its partition, and each output partition's trade ids in
    /// the order they came out.
    raw_offset: BTreeMap<String, i64>,
    out_order: BTreeMap<i32, Vec<String>>,
}

impl Seen {
    fn poll(&mut self, c: &BaseConsumer, prefix: &str, for_at_most: Duration) {
        let until = Instant::now() + for_at_most;
        while Instant::now() < until {
            let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
            let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
            if m.topic() == format!("{prefix}.raw.trades") {
                self.raw_offset.insert(RawTrade::from_avro(datum).unwrap().trade_id, m.offset());
            } else if m.topic() == format!("{prefix}.trades") {
                let t = Trade::from_avro(datum).unwrap();
                assert_eq!(m.key(), Some(t.instrument.as_bytes()));
                self.out_order.entry(m.partition()).or_default().push(t.trade_id.clone());
                self.clean.entry(t.trade_id.clone()).or_default().push(m.payload().unwrap().to_vec());
            } else {
                let q = QuarantineRecord::from_avro(datum).unwrap();
                self.quarantined.insert(q.source_offset * 10 + q.source_partition as i64, q.reason);
            }
        }
    }

    fn total(&self) -> usize {
        self.clean.len() + self.quarantined.len()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn trades_flow_through_the_host_and_a_kill_loses_nothing() {
    let stack = stack();
    let b = stack.broker();
    let prefix = unique("th");
    let topics = [("raw.trades", 3), ("trades", 3), ("raw.trades.quarantine", 1)];
    let specs: Vec<TopicSpec> = topics
        .iter()
        .map(|(t, p)| TopicSpec { name: format!("{prefix}.{t}"), partitions: *p, replication: 1, configs: vec![] })
        .collect();
    broker::create_topics(&b, &specs).await.unwrap();
    let registry = RegistryClient::new(&stack.settings.registry.url);
    let raw_id = registry.register(&format!("{prefix}.raw.trades-value"), RawTrade::SCHEMA_JSON).await.unwrap();

    // 1,200 trades, half before the first host starts and half after it was killed; every
    // tenth has a negative price and must land in quarantine.
    let producer = std::sync::Arc::new(ReliableProducer::new(&b).unwrap());
    let now_us = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
    let total = 1_200;
    let mut good = BTreeSet::new();
    let mut bad = 0;
    let mut inputs = Vec::new();
    for i in 0..total {
        let symbol = SYMBOLS[i % 3];
        let negative = i % 10 == 7;
        let t = RawTrade {
            venue: "binance".into(),
            market: "spot".into(),
            symbol: symbol.into(),
            trade_id: format!("t{i}"),
            price: if negative { "-1".parse().unwrap() } else { format!("0.{}", 3000 + i % 7).parse().unwrap() },
            size: format!("{}.5", i + 1).parse().unwrap(),
            taker_side: if i % 2 == 0 { TakerSide::Buy } else { TakerSide::Sell },
            event_time_us: now_us - 1_000_000,
            receive_time_us: now_us - 999_000,
            sequence: Some(i as i64),
        };
        if negative {
            bad += 1;
        } else {
            good.insert(t.trade_id.clone());
        }
        inputs.push((symbol, wire::frame(raw_id, &t.to_avro().unwrap())));
    }
    let topic = format!("{prefix}.raw.trades");
    let write = |batch: Vec<(&'static str, Vec<u8>)>| {
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            let mut sends = tokio::task::JoinSet::new();
            for (symbol, value) in batch {
                let (producer, topic) = (producer.clone(), topic.clone());
                sends.spawn(async move { producer.send(&topic, None, symbol.as_bytes(), Some(&value)).await.unwrap() });
            }
            while let Some(sent) = sends.join_next().await {
                sent.unwrap();
            }
        }
    };
    let second_half = inputs.split_off(total / 2);
    write(inputs).await;

    let c = reader(&prefix);
    let mut seen = Seen::default();
    let first = spawn_host(&prefix, free_port());
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.total() < total / 3 {
        assert!(Instant::now() < deadline, "the host produced only {} records", seen.total());
        seen.poll(&c, &prefix, Duration::from_millis(200));
    }
    drop(first); // SIGKILL in mid-stream: the second half arrives while no host runs
    write(second_half).await;
    let metrics_port = free_port();
    let _second = spawn_host(&prefix, metrics_port);
    while seen.clean.len() < good.len() || seen.quarantined.len() < bad {
        assert!(
            Instant::now() < deadline,
            "after the restart: {} of {} clean, {} of {bad} quarantined",
            seen.clean.len(),
            good.len(),
            seen.quarantined.len()
        );
        seen.poll(&c, &prefix, Duration::from_millis(200));
    }
    seen.poll(&c, &prefix, Duration::from_secs(2));
    // Nothing lost, nothing invented.
    assert_eq!(seen.clean.keys().cloned().collect::<BTreeSet<_>>(), good);
    assert_eq!(seen.quarantined.len(), bad);
    assert!(seen.quarantined.values().all(|r| r == "price_not_positive"));
    // Each output partition keeps its input partition's order: its trades' input offsets
    // only step back where the second host repeated what the first had not committed.
    for (partition, ids) in &seen.out_order {
        let offsets: Vec<i64> = ids.iter().map(|id| seen.raw_offset[id]).collect();
        let back = offsets.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(back <= 1, "output partition {partition} steps back {back} times: {offsets:?}");
    }
    // Repeats are exact copies of the same record (at least once, same key and value).
    for (id, copies) in &seen.clean {
        assert!(copies.windows(2).all(|w| w[0] == w[1]), "{id} has differing copies");
    }
    // The host counts what it did: every record in came out on one of the two outputs.
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await.unwrap().text().await.unwrap();
    let value = |name: &str, output: Option<&str>| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && output.is_none_or(|o| l.contains(&format!("output=\"{prefix}.{o}\""))))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from\n{metrics}"))
    };
    let records_in = value("tickwatch_transform_records_in_total", None);
    assert!(records_in >= (total / 2) as u64, "the second host did the second half: {records_in}");
    assert_eq!(
        records_in,
        value("tickwatch_transform_records_out_total", Some("trades"))
            + value("tickwatch_transform_records_out_total", Some("raw.trades.quarantine"))
    );
    assert_eq!(value("tickwatch_transform_traps_total", None), 0);
    // Every record's trip through the host was timed, and every batch's time in the VM.
    let delays = value("tickwatch_transform_record_delay_seconds_count", None);
    assert_eq!(delays, records_in);
    let batches = value("tickwatch_transform_batches_total", None);
    assert!(batches > 0 && value("tickwatch_transform_batch_seconds_count", None) == batches);
    // The stack's Prometheus scrapes the same figures.
    let _target = ScrapeTarget::add(stack, &prefix, &format!("127.0.0.1:{metrics_port}"));
    let promql = format!("tickwatch_transform_records_in_total{{input=\"{prefix}.raw.trades\"}}");
    let scraped = wait_for_value(stack, &promql, 60).await;
    assert_eq!(scraped as u64, records_in);
    let p95 = format!(
        "histogram_quantile(0.95, tickwatch_transform_record_delay_seconds_bucket{{input=\"{prefix}.raw.trades\"}})"
    );
    let p95 = query_value(stack, &p95).await.expect("the delay histogram is queryable");
    assert!(p95 > 0.0, "a 95th percentile delay of {p95} s");
    // And the values are exact.
    let sample = Trade::from_avro(wire::unframe(&seen.clean["t0"][0]).unwrap().1).unwrap();
    assert_eq!(
        (sample.instrument.as_str(), sample.price.to_string(), sample.size.to_string()),
        ("NKN-USDT", "0.3".into(), "1.5".into())
    );
}
