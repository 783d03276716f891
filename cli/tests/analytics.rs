//! `tickwatch analytics run` on the real broker, registry and Redis: PriceSmooth ticks equal the
//! state machine run offline over the same trades, through SIGKILLs of the worker (its state
//! comes back from Redis; a tick emitted again is the same tick), and the spreads, divergence
//! and EMA crossovers of the same input arrive on `signals`.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_model::{
    wire, AvroRecord, Decimal, InstrumentKind, Kline, KlineVerification, ReferencePrice, Signal, SmoothPrice,
    TakerSide, Trade,
};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_sink_analytics::run::QUARANTINE_TOPICS;
use tickwatch_sink_analytics::smooth::{Smooth, SmoothParams};
use tickwatch_testkit::market::okx_btc_perp_prices;
use tickwatch_testkit::{repo_root, stack, unique, ChildGuard};

const S: i64 = 1_000_000;
const T0: i64 = 1_735_689_600 * S; // 2025-01-01

/// Two venues trading BTC-USDT every 250 ms for 10 minutes, with a 2 % jump at 3 min and a
/// 1 % drop at 6 min (the two venues 2 bps apart, and 50 bps apart between 8 and 8.5 min).
fn trades() -> Vec<Trade> {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut out = Vec::new();
    let mut cents: i64 = 5_000_000; // 50 000.00
    for step in 0..2_400i64 {
        let t = T0 + step * 250_000;
        match step {
            720 => cents = cents * 102 / 100,
            1_440 => cents = cents * 99 / 100,
            _ => cents += rng.i64(-3..=3),
        }
        for (i, venue) in ["binance", "okx"].iter().enumerate() {
            let wide = (1_920..2_040).contains(&step) && i == 1;
            let px = cents + i as i64 * 10 + if wide { cents / 200 } else { 0 };
            out.push(Trade {
                venue: venue.to_string(),
                instrument: "BTC-USDT".into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                kind: InstrumentKind::Spot,
                expiry_us: None,
                venue_symbol: "BTCUSDT".into(),
                trade_id: format!("{step}"),
                price: Decimal::from_units(px as i128 * 10_000_000_000_000_000),
                size: "0.01".parse().unwrap(),
                taker_side: TakerSide::Buy,
                event_time_us: t + i as i64 * 1_000,
                receive_time_us: t + 5_000,
                source_lag_ms: 5,
                sequence: None,
            });
        }
    }
    out
}

fn reference(i: i64, mark: &str, index: &str) -> ReferencePrice {
    okx_btc_perp_prices(Some(mark.parse().unwrap()), Some(index.parse().unwrap()), T0 + i * S, 5_000)
}

/// 1m bars falling then rising: EMA(2) crosses EMA(4) upward once.
fn bars() -> Vec<Kline> {
    [10, 9, 8, 7, 6, 8, 10, 12]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let close: Decimal = format!("{c}").parse().unwrap();
            Kline {
                venue: "okx".into(),
                instrument: "ETH-USDT".into(),
                interval: "1m".into(),
                open_time_us: T0 + i as i64 * 60 * S,
                close_time_us: T0 + (i as i64 + 1) * 60 * S,
                open: close,
                high: close,
                low: close,
                close,
                volume: "1".parse().unwrap(),
                quote_volume: close,
                vwap: close,
                trade_count: 1,
                taker_buy_volume: Decimal::ZERO,
                taker_buy_quote_volume: Decimal::ZERO,
                first_trade_id: "1".into(),
                last_trade_id: "1".into(),
                version: 1,
                verification: KlineVerification::Unverified,
                emitted_at_us: 0,
            }
        })
        .collect()
}

const CONFIG: &str = "spread: {every: 1s, max_age: 5s}\ndivergence: {every: 1s, max_age: 5s}\n\
smooth: {tick: 1s, ramp: 60s, jump_bps: 10, max_age: 30s}\nema: {intervals: [1m], fast: 2, slow: 4}\n";

fn params() -> SmoothParams {
    SmoothParams { tick_us: S, ramp_us: 60 * S, max_age_us: 30 * S, jump_bps: 10 }
}

fn worker(prefix: &str, cfg: &std::path::Path) -> ChildGuard {
    let log = repo_root().join(format!("target/test-logs/{prefix}-analytics.log"));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .arg("--config")
        .arg(&stack().settings_path)
        .args(["analytics", "run", "--analytics"])
        .arg(cfg)
        .args(["--topic-prefix", &format!("{prefix}."), "--group", &format!("{prefix}-analytics")])
        .stdout(Stdio::null())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap())
        .spawn()
        .expect("tickwatch analytics run starts");
    ChildGuard(child)
}

/// Produce `recs` in order to partition 0 (healing Tansu's fenced producers).
async fn send<T: AvroRecord>(
    producer: &mut ReliableProducer,
    topic: &str,
    id: u32,
    key: impl Fn(&T) -> String,
    recs: &[T],
) {
    tickwatch_testkit::produce::send_records(producer, topic, id, key, recs).await;
}

#[derive(Default)]
struct Seen {
    ticks: BTreeMap<i64, SmoothPrice>,
    emitted: usize,
    repeats_differ: Vec<String>,
    signals: Vec<Signal>,
}

impl Seen {
    fn poll(&mut self, c: &BaseConsumer, for_at_most: Duration) {
        let until = Instant::now() + for_at_most;
        while Instant::now() < until {
            let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
            let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
            if m.topic().ends_with("signals") {
                self.signals.push(Signal::from_avro(datum).unwrap());
                continue;
            }
            let p = SmoothPrice::from_avro(datum).unwrap();
            self.emitted += 1;
            let p = SmoothPrice { emitted_at_us: 0, ..p };
            if let Some(old) = self.ticks.get(&p.tick_us) {
                if *old != p {
                    self.repeats_differ.push(format!("{old:?} vs {p:?}"));
                }
            }
            self.ticks.insert(p.tick_us, p);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn price_smooth_survives_kills_and_signals_follow_the_input() {
    let prefix = unique("ana");
    let b = stack().broker();
    let mut inputs = vec!["trades", "reference", "dq.minute", "kline.1m"];
    inputs.extend(QUARANTINE_TOPICS);
    let outputs = ["signals", "price.smooth"];
    let specs: Vec<TopicSpec> = inputs
        .iter()
        .chain(&outputs)
        .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    broker::create_topics(&b, &specs).await.unwrap();
    let registry = RegistryClient::new(&stack().settings.registry.url);
    let trade_id = registry.register(&format!("{prefix}.trades-value"), Trade::SCHEMA_JSON).await.unwrap();
    let ref_id = registry.register(&format!("{prefix}.reference-value"), ReferencePrice::SCHEMA_JSON).await.unwrap();
    let kline_id = registry.register(&format!("{prefix}.kline.1m-value"), Kline::SCHEMA_JSON).await.unwrap();
    let cfg = std::env::temp_dir().join(format!("{prefix}-analytics.yaml"));
    std::fs::write(&cfg, format!("{CONFIG}state_prefix: \"{prefix}:\"\n")).unwrap();

    let all = trades();
    let mut offline = Smooth::new();
    let mut expected = Vec::new();
    for t in &all {
        offline.on_trade(&params(), &t.venue, t.price, t.event_time_us, &mut expected);
    }
    assert!(expected.len() > 500, "{} ticks", expected.len());

    let mut producer = ReliableProducer::new(&b).unwrap();
    let c: BaseConsumer = broker::client_config(&b).set("group.id", unique("reader")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for t in outputs {
        tpl.add_partition_offset(&format!("{prefix}.{t}"), 0, Offset::Offset(0)).unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut seen = Seen::default();
    // Divergence: 30 bps, then 2 bps. Bars for the EMA crossover.
    let refs: Vec<ReferencePrice> =
        (0..10).map(|i| if i < 5 { reference(i, "100.3", "100") } else { reference(i, "100.02", "100") }).collect();
    send(&mut producer, &format!("{prefix}.reference"), ref_id, |r: &ReferencePrice| r.instrument.clone(), &refs).await;
    send(&mut producer, &format!("{prefix}.kline.1m"), kline_id, |k: &Kline| k.instrument.clone(), &bars()).await;
    // Four rounds of trades; the worker is SIGKILLed after it published something new in
    // each of the first three.
    for (round, part) in all.chunks(all.len() / 4).enumerate() {
        send(&mut producer, &format!("{prefix}.trades"), trade_id, |t: &Trade| t.instrument.clone(), part).await;
        let mut w = worker(&prefix, &cfg);
        let before = seen.emitted;
        let deadline = Instant::now() + Duration::from_secs(90);
        if round == 3 {
            while seen.ticks.len() < expected.len() {
                assert!(Instant::now() < deadline, "{} of {} ticks", seen.ticks.len(), expected.len());
                seen.poll(&c, Duration::from_millis(300));
            }
            break;
        }
        while seen.emitted == before {
            assert!(Instant::now() < deadline, "round {round}: no new ticks ({} so far)", seen.emitted);
            seen.poll(&c, Duration::from_millis(100));
        }
        w.0.kill().unwrap();
        w.0.wait().unwrap();
    }
    seen.poll(&c, Duration::from_secs(2));
    assert!(seen.repeats_differ.is_empty(), "a tick emitted twice differs: {:?}", &seen.repeats_differ[..1]);
    assert_eq!(seen.ticks.len(), expected.len(), "no tick beyond the offline ones");
    for want in &expected {
        let got = &seen.ticks[&want.tick_us];
        assert_eq!(
            (got.price, got.target, got.state, got.ramp_end_us, got.sources, got.version),
            (want.price, want.target, want.state, want.ramp_end_us, want.sources, want.version),
            "tick {}",
            want.tick_us
        );
    }
    assert!(seen.emitted >= expected.len());

    // Spreads: 2 bps apart (okx above) except 50 bps between 8:00 and 8:30.
    let spreads: Vec<&Signal> = seen.signals.iter().filter(|s| s.kind == "spread").collect();
    assert!(spreads.len() > 300, "{} spreads", spreads.len());
    for s in &spreads {
        assert_eq!((s.venue.as_str(), s.venue_b.as_deref(), s.unit.as_str()), ("binance", Some("okx"), "bps"));
        let wide = (T0 + 481 * S..T0 + 510 * S).contains(&s.at_us);
        let narrow = s.at_us < T0 + 479 * S || s.at_us > T0 + 512 * S;
        if wide {
            assert!((s.value + 50.0).abs() < 2.5, "{s:?}");
        } else if narrow {
            assert!(s.value < 0.0 && s.value > -2.5, "{s:?}");
        }
    }
    // Divergence: 30 bps for the first five seconds, then 2.
    // (A value emitted again after a kill is the same value.)
    let div: BTreeMap<i64, f64> = seen
        .signals
        .iter()
        .filter(|s| s.kind == "divergence")
        .map(|s| ((s.at_us - T0) / S, (s.value * 100.0).round() / 100.0))
        .collect();
    assert_eq!(div, (0..10).map(|i| (i, if i < 5 { 30.0 } else { 2.0 })).collect());
    // EMA(2) over EMA(4): one cross up, at the close of the seventh bar.
    let crosses: std::collections::BTreeSet<(String, i64, i64)> = seen
        .signals
        .iter()
        .filter(|s| s.kind == "ema_cross")
        .map(|s| (s.interval.clone().unwrap(), s.value as i64, s.at_us))
        .collect();
    assert_eq!(crosses.into_iter().collect::<Vec<_>>(), vec![("1m".to_string(), 1, T0 + 7 * 60 * S)]);
}
