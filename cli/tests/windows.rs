//! `tickwatch windows run` on the real broker and registry: trades in, bars out on
//! `kline.<interval>` equal (field by field, at each bar's highest version) to the bars the
//! window builder computes offline from the same trades, through three SIGKILLs of the
//! worker in mid-stream (nothing lost: every bar is there; a bar emitted again is the same
//! bar); and a trade beyond the correction horizon is quarantined with reason `late`.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_model::{wire, AvroRecord, Kline, QuarantineRecord, TakerSide, Trade};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_sink_windows::{KlineBuilder, Output, WindowConfig};
use tickwatch_testkit::market::okx_spot_trade;
use tickwatch_testkit::{stack, unique, ChildGuard};

const T0: i64 = 1_735_689_600_000_000; // 2025-01-01, µs
const INTERVALS: [&str; 2] = ["1s", "5s"];

fn config() -> WindowConfig {
    WindowConfig {
        intervals: INTERVALS.map(String::from).to_vec(),
        allowed_lateness_ms: 2_000,
        correction_horizon_ms: 10_000,
        idle_after_ms: 1_000,
        ..WindowConfig::default()
    }
}

fn trades() -> Vec<Trade> {
    let mut rng = fastrand::Rng::with_seed(5);
    let mut t = T0;
    (0..4_000u64)
        .map(|i| {
            t += rng.i64(0..20_000);
            let instrument = ["BTC-USDT", "ETH-USDT", "SOL-USDT"][rng.usize(0..3)];
            okx_spot_trade(
                instrument,
                (10_000 + i).to_string(),
                &format!("{}.{:04}", 100 + rng.u32(0..3), rng.u32(0..10_000)),
                &format!("0.{:06}", rng.u32(1..1_000_000)),
                if rng.bool() { TakerSide::Buy } else { TakerSide::Sell },
                t,
                3_000,
            )
        })
        .collect()
}

fn worker(prefix: &str, cfg_path: &std::path::Path) -> ChildGuard {
    let child = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .arg("--config")
        .arg(&stack().settings_path)
        .args(["windows", "run", "--windows"])
        .arg(cfg_path)
        .args(["--topic-prefix", &format!("{prefix}."), "--group", &format!("{prefix}-windows")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tickwatch windows run starts");
    ChildGuard(child)
}

/// Bars by (instrument, interval, open time) at their highest version, and the quarantine.
#[derive(Default)]
struct Seen {
    bars: BTreeMap<(String, String, i64), Kline>,
    emitted: usize,
    late: Vec<QuarantineRecord>,
}

impl Seen {
    fn poll(&mut self, c: &BaseConsumer, for_at_most: Duration) {
        let until = Instant::now() + for_at_most;
        while Instant::now() < until {
            let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
            let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
            if m.topic().ends_with("quarantine") {
                self.late.push(QuarantineRecord::from_avro(datum).unwrap());
                continue;
            }
            let k = Kline::from_avro(datum).unwrap();
            self.emitted += 1;
            let key = (k.instrument.clone(), k.interval.clone(), k.open_time_us);
            if self.bars.get(&key).is_none_or(|old| old.version <= k.version) {
                self.bars.insert(key, k);
            }
        }
    }
}

/// A bar without its emission time (which differs between runs).
fn comparable(k: &Kline) -> Kline {
    Kline { emitted_at_us: 0, ..k.clone() }
}

#[tokio::test(flavor = "multi_thread")]
async fn bars_survive_kills_and_equal_the_offline_computation() {
    let prefix = unique("win");
    let b = stack().broker();
    let mut topics = vec![format!("{prefix}.trades"), format!("{prefix}.trades.quarantine")];
    topics.extend(INTERVALS.iter().map(|i| format!("{prefix}.kline.{i}")));
    let specs: Vec<TopicSpec> =
        topics.iter().map(|t| TopicSpec { name: t.clone(), partitions: 1, replication: 1, configs: vec![] }).collect();
    broker::create_topics(&b, &specs).await.unwrap();
    let registry = RegistryClient::new(&stack().settings.registry.url);
    let id = registry.register(&format!("{prefix}.trades-value"), Trade::SCHEMA_JSON).await.unwrap();
    let all = trades();
    // One more trade at the end, long after its windows were dropped: late.
    let mut late = all[10].clone();
    late.trade_id = "99999999".into();
    let producer = ReliableProducer::new(&b).unwrap();
    let topic = format!("{prefix}.trades");
    // What the builder computes offline from the same trades.
    let mut offline = KlineBuilder::new(&config()).unwrap();
    let mut out = Vec::new();
    for (i, t) in all.iter().enumerate() {
        offline.on_trade(t, i as i64, t.receive_time_us, &mut out);
    }
    offline.finish(0, &mut out);
    let expected: BTreeMap<(String, String, i64), Kline> = out
        .iter()
        .filter_map(|o| if let Output::Bar(k) = o { Some(k) } else { None })
        .map(|k| ((k.instrument.clone(), k.interval.clone(), k.open_time_us), comparable(k)))
        .collect();
    assert!(expected.len() > 100, "{} bars", expected.len());

    let cfg_path = std::env::temp_dir().join(format!("{prefix}-windows.yaml"));
    std::fs::write(
        &cfg_path,
        "intervals: [1s, 5s]\nallowed_lateness_ms: 2000\ncorrection_horizon_ms: 10000\nidle_after_ms: 1000\n",
    )
    .unwrap();
    let c: BaseConsumer = broker::client_config(&b).set("group.id", unique("reader")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for t in topics.iter().skip(1) {
        tpl.add_partition_offset(t, 0, Offset::Offset(0)).unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut seen = Seen::default();
    // Four quarters of the trades, one per round; the worker is killed (SIGKILL) as soon as
    // it has published something new in each of the first three rounds.
    let quarters: Vec<&[Trade]> = all.chunks(all.len() / 4).collect();
    for (round, quarter) in quarters.iter().enumerate() {
        send(&producer, &topic, id, quarter).await;
        let mut w = worker(&prefix, &cfg_path);
        if round == 3 {
            send(&producer, &topic, id, std::slice::from_ref(&late)).await;
            let deadline = Instant::now() + Duration::from_secs(120);
            while seen.bars.len() < expected.len() || seen.late.is_empty() {
                assert!(
                    Instant::now() < deadline,
                    "{} of {} bars, {} late records",
                    seen.bars.len(),
                    expected.len(),
                    seen.late.len()
                );
                seen.poll(&c, Duration::from_millis(500));
            }
            break;
        }
        let before = seen.emitted;
        let deadline = Instant::now() + Duration::from_secs(90);
        while seen.emitted == before {
            assert!(Instant::now() < deadline, "round {round}: no new bars ({} so far)", seen.emitted);
            seen.poll(&c, Duration::from_millis(100));
        }
        w.0.kill().unwrap();
        w.0.wait().unwrap();
    }
    seen.poll(&c, Duration::from_secs(2));
    assert_eq!(seen.bars.len(), expected.len(), "no bar beyond the expected ones");
    for (key, want) in &expected {
        assert_eq!(&comparable(&seen.bars[key]), want, "{key:?}");
    }
    assert!(seen.emitted >= expected.len(), "bars emitted again after a kill are repeats of the same bars");
    let q = &seen.late[0];
    assert_eq!(
        (q.reason.as_str(), q.rule.as_str(), q.instrument.as_deref()),
        ("late", "windows", Some(late.instrument.as_str()))
    );
    assert_eq!(seen.late.len(), 1, "only the late trade");
}

/// Produce `trades` in order (one idempotent producer keeps it) and wait for every
/// acknowledgement.
async fn send(producer: &ReliableProducer, topic: &str, id: u32, trades: &[Trade]) {
    let values: Vec<(String, Vec<u8>)> =
        trades.iter().map(|t| (t.instrument.clone(), wire::frame(id, &t.to_avro().unwrap()))).collect();
    let deliveries: Vec<_> = values
        .iter()
        .map(|(key, value)| {
            let record = FutureRecord::to(topic).partition(0).key(key.as_bytes()).payload(value);
            producer.client().send_result(record).map_err(|(e, _)| e).unwrap()
        })
        .collect();
    for d in deliveries {
        d.await.unwrap().unwrap();
    }
}
