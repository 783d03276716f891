//! The venues' own history, against the fake OKX's REST k-lines (bars of every trade of its
//! recording): `tickwatch backfill` pages within the venue's request limit, resumes from its
//! checkpoint and publishes the same bars twice alike; `tickwatch reconcile` turns a session
//! with injected gaps (trades missing from what the window worker saw, one minute lost whole)
//! into 100 % verified minutes, and flags the bar the venue never had.

mod common;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tickwatch_fakes::synthetic::{Event, Synthetic, START_MS};
use tickwatch_model::{wire, AvroRecord, Decimal, Kline, KlineVerification, TakerSide, Trade};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_testkit::market::okx_spot_trade;
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{stack, unique, ChildGuard};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");
const MINUTE: i64 = 60_000;
/// The checked version of every bar that carries the venue's word.
const VENUE_CHECKED_VERSION: i64 = 1_000_000_000;

/// A seeded market of one instrument, `minutes` long from the fixed start, and the fake OKX
/// serving it (its REST answers `rest_limit` k-line requests a second, 0: all).
fn market(prefix: &str, minutes: u64, rest_limit: u32) -> (Vec<Event>, ChildGuard, String) {
    let synthetic =
        Synthetic { seed: 11, instruments: 1, seconds: minutes * 60, trades_per_second: 4.0, depth_per_second: 0.5 };
    let dir = std::env::temp_dir().join(format!("{prefix}-okx"));
    synthetic.write_as("okx", &dir, &["BTC-USDT".to_string()], START_MS).unwrap();
    let (_, events) = synthetic.events_from(START_MS);
    let (fake, _ws, rest) = common::fake_venue("okx", &dir, &["--rest-limit", &rest_limit.to_string()]);
    (events, fake, rest)
}

/// The venue's bars computed here from the market's trades: (open, high, low, close, volume).
type Ohlcv = (Decimal, Decimal, Decimal, Decimal, Decimal);

fn expected_bars(events: &[Event]) -> BTreeMap<i64, Ohlcv> {
    let mut bars: BTreeMap<i64, Ohlcv> = BTreeMap::new();
    for e in events {
        let Event::Trade { ms, px, qty, .. } = e else { continue };
        let (px, qty): (Decimal, Decimal) = (px.parse().unwrap(), qty.parse().unwrap());
        let bar = bars.entry(ms - ms % MINUTE).or_insert((px, px, px, px, Decimal::ZERO));
        bar.1 = bar.1.max(px);
        bar.2 = bar.2.min(px);
        bar.3 = px;
        bar.4 = bar.4.checked_add(qty).unwrap();
    }
    bars
}

fn ohlcv(k: &Kline) -> Ohlcv {
    (k.open, k.high, k.low, k.close, k.volume)
}

/// `tickwatch <line>` (its words split at spaces), which must succeed.
fn tickwatch(settings: &std::path::Path, line: &str) -> Output {
    let args: Vec<&str> = line.split_whitespace().collect();
    let out = Command::new(BIN).arg("--config").arg(settings).args(&args).output().unwrap();
    assert!(out.status.success(), "tickwatch {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every k-line in `topic` (one partition), after `quiet` without a new one.
fn klines_in(topic: &str, quiet: Duration) -> Vec<Kline> {
    let c: BaseConsumer = broker::client_config(&stack().broker()).set("group.id", unique("reader")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(0)).unwrap();
    c.assign(&tpl).unwrap();
    let (mut out, mut last) = (Vec::new(), Instant::now());
    while last.elapsed() < quiet {
        let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
        let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
        out.push(Kline::from_avro(datum).unwrap());
        last = Instant::now();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_pages_within_the_limit_resumes_and_publishes_the_same_bars_again() {
    let prefix = unique("bfl");
    let (events, _fake, rest) = market(&prefix, 30, 1);
    let expected = expected_bars(&events);
    assert_eq!(expected.len(), 30);
    let topic = format!("{prefix}.kline.1m");
    let spec = TopicSpec { name: topic.clone(), partitions: 1, replication: 1, configs: vec![] };
    broker::create_topics(&stack().broker(), &[spec]).await.unwrap();
    let checkpoint = std::env::temp_dir().join(format!("{prefix}-checkpoint.json"));
    let (from, to) = (START_MS.to_string(), (START_MS + 30 * MINUTE).to_string());
    let settings = &stack().settings_path;
    // Five-minute chunks, asked for at 20 a second of a venue that answers one a second.
    let args = format!(
        "backfill --venue okx --instrument BTC-USDT --from {from} --to {to} --rest-url {rest} --topic-prefix {prefix}. \
         --chunk-minutes 5 --rate 20 --checkpoint {}",
        checkpoint.display()
    );
    let out = tickwatch(settings, &args);
    let said = text(&out.stdout);
    assert!(
        said.starts_with(&format!(
            "backfilled 30 bars (0 minutes without a bar) of okx BTC-USDT [{from}, {to}) into {topic}, "
        )),
        "{said}"
    );
    let waits: u64 = said.rsplit(", ").next().unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(waits >= 1, "six requests within 300 ms of a one-a-second venue meet its limit: {said}");
    assert!(text(&out.stderr).contains("100% 30/30 min"), "the progress bar reaches the end: {}", text(&out.stderr));

    let first = klines_in(&topic, Duration::from_secs(3));
    assert_eq!(first.len(), 30);
    for k in &first {
        assert_eq!(Some(&ohlcv(k)), expected.get(&(k.open_time_us / 1000)), "bar at {}", k.open_time_us);
        assert_eq!(
            (k.verification, k.version, k.interval.as_str()),
            (KlineVerification::Verified, VENUE_CHECKED_VERSION, "1m")
        );
    }

    // Done is done; an interrupted run (its checkpoint 10 minutes in) resumes there.
    assert!(text(&tickwatch(settings, &args).stdout).starts_with("already backfilled"));
    let cp: Value = serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    assert_eq!(cp["done_to_ms"], START_MS + 30 * MINUTE);
    let mut cut = cp.clone();
    cut["done_to_ms"] = (START_MS + 10 * MINUTE).into();
    std::fs::write(&checkpoint, cut.to_string()).unwrap();
    let out = tickwatch(settings, &args);
    assert!(text(&out.stderr).contains(&format!("resuming at {}", START_MS + 10 * MINUTE)), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("backfilled 20 bars"), "{}", text(&out.stdout));

    // The minutes published twice are the same bars, but for when they were published.
    let all = klines_in(&topic, Duration::from_secs(3));
    assert_eq!(all.len(), 50);
    let mut by_minute: BTreeMap<i64, Vec<Kline>> = BTreeMap::new();
    for k in all {
        by_minute.entry(k.open_time_us).or_default().push(Kline { emitted_at_us: 0, ..k });
    }
    assert_eq!(by_minute.len(), 30);
    for (minute, copies) in by_minute {
        assert_eq!(copies.len(), if minute >= (START_MS + 10 * MINUTE) * 1000 { 2 } else { 1 });
        assert!(copies.windows(2).all(|w| w[0] == w[1]), "minute {minute}: {copies:?}");
    }

    // A checkpoint of another range is refused, naming the fix.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(settings)
        .args([
            "backfill",
            "--venue",
            "okx",
            "--instrument",
            "BTC-USDT",
            "--from",
            &from,
            "--to",
            &(START_MS + MINUTE * 5).to_string(),
        ])
        .args(["--rest-url", &rest, "--checkpoint", checkpoint.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success() && text(&out.stderr).contains("pass another --checkpoint"), "{}", text(&out.stderr));
}

/// Our 1m bars of okx BTC-USDT in ClickHouse (FINAL), by open time (ms).
async fn our_bars(ch: &ClickHouse) -> BTreeMap<i64, (Ohlcv, String)> {
    let rows = ch
        .query_rows(
            "SELECT toUnixTimestamp64Milli(open_time) AS t, toString(open) AS o, toString(high) AS h, toString(low) AS l, \
             toString(close) AS c, toString(volume) AS v, toString(verification) AS verification FROM klines FINAL \
             WHERE venue = 'okx' AND instrument = 'BTC-USDT' AND interval = '1m'",
        )
        .await
        .unwrap();
    let d = |r: &Value, f: &str| r[f].as_str().unwrap().parse::<Decimal>().unwrap();
    rows.iter()
        .map(|r| {
            let bar = (d(r, "o"), d(r, "h"), d(r, "l"), d(r, "c"), d(r, "v"));
            (r["t"].as_i64().unwrap(), (bar, r["verification"].as_str().unwrap().to_string()))
        })
        .collect()
}

async fn wait_for(
    ch: &ClickHouse,
    what: &str,
    ok: impl Fn(&BTreeMap<i64, (Ohlcv, String)>) -> bool,
) -> BTreeMap<i64, (Ohlcv, String)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let bars = our_bars(ch).await;
        if ok(&bars) {
            return bars;
        }
        assert!(Instant::now() < deadline, "{what}: {bars:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_turns_a_session_with_gaps_into_verified_minutes() {
    let s = stack();
    let prefix = unique("rec");
    let (events, _fake, rest) = market(&prefix, 10, 0);
    let expected = expected_bars(&events);
    assert_eq!(expected.len(), 10);
    let database = prefix.replace('-', "_");
    let settings = settings_with_clickhouse(s, &s.settings.clickhouse.url, &database);
    tickwatch(&settings, "migrate");
    let ch = ClickHouse::new(&Settings::load(&settings).unwrap().clickhouse);

    // What the window worker saw: every 9th trade lost, minute 4 lost whole, and a trade
    // of ours a minute after the venue's market ended.
    let lost_minute = START_MS + 4 * MINUTE;
    let mut trades: Vec<Trade> = Vec::new();
    for (n, e) in events.iter().enumerate() {
        let Event::Trade { ms, id, px, qty, buy, .. } = e else { continue };
        if n % 9 == 0 || (lost_minute..lost_minute + MINUTE).contains(ms) {
            continue;
        }
        let side = if *buy { TakerSide::Buy } else { TakerSide::Sell };
        trades.push(okx_spot_trade("BTC-USDT", id.to_string(), px, qty, side, ms * 1000, 2_000));
    }
    let extra_minute = START_MS + 10 * MINUTE;
    trades.push(okx_spot_trade(
        "BTC-USDT",
        "9999999".into(),
        "100.00",
        "1",
        TakerSide::Buy,
        (extra_minute + 5_000) * 1000,
        2_000,
    ));

    let p = format!("{prefix}.");
    let specs: Vec<TopicSpec> = ["trades", "trades.quarantine", "kline.1m"]
        .iter()
        .map(|t| TopicSpec { name: format!("{p}{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    broker::create_topics(&s.broker(), &specs).await.unwrap();
    let id = RegistryClient::new(&s.settings.registry.url)
        .register(&format!("{p}trades-value"), Trade::SCHEMA_JSON)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let (windows_cfg, sinks_cfg) = (dir.join("windows.yaml"), dir.join("sinks.yaml"));
    std::fs::write(
        &windows_cfg,
        "intervals: [1m]\nallowed_lateness_ms: 1000\ncorrection_horizon_ms: 5000\nidle_after_ms: 1000\n",
    )
    .unwrap();
    std::fs::write(&sinks_cfg, "clickhouse: {topics: [kline.1m], batch_ms: 200}\n").unwrap();
    let _windows = common::spawn(
        &settings,
        &prefix,
        "windows",
        &[
            "windows",
            "run",
            "--windows",
            windows_cfg.to_str().unwrap(),
            "--topic-prefix",
            &p,
            "--group",
            &format!("{p}windows"),
        ],
    );
    let _sink = common::spawn(
        &settings,
        &prefix,
        "sink",
        &[
            "sink",
            "clickhouse",
            "--sinks",
            sinks_cfg.to_str().unwrap(),
            "--topic-prefix",
            &p,
            "--group",
            &format!("{p}sink"),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    );
    let producer = ReliableProducer::new(&s.broker()).unwrap();
    tickwatch_testkit::produce::send_records(
        &producer,
        &format!("{p}trades"),
        id,
        |t: &Trade| t.instrument.clone(),
        &trades,
    )
    .await;

    // The live bars: every minute but the lost one, each short of the venue's volume.
    let live = wait_for(&ch, "10 live bars", |b| b.len() == 10).await;
    assert!(!live.contains_key(&lost_minute));
    for (t, (bar, verification)) in &live {
        assert_eq!(verification, "UNVERIFIED");
        if let Some(venue) = expected.get(t) {
            assert!(bar.4 < venue.4, "minute {t}: our volume {} lacks the lost trades ({})", bar.4, venue.4);
        }
    }

    let (from, to) = (START_MS.to_string(), (START_MS + 11 * MINUTE).to_string());
    let once = format!(
        "reconcile once --venue okx --instrument BTC-USDT --from {from} --to {to} --rest-url {rest} --topic-prefix {p}"
    );
    let said = text(&tickwatch(&settings, &once).stdout);
    assert_eq!(said.trim(), format!("okx BTC-USDT [{from}, {to}): 0 match, 9 corrected, 1 backfilled, 1 unconfirmed"));

    // Every venue minute now holds the venue's bar, verified; ours alone is suspect.
    let fixed =
        wait_for(&ch, "reconciled bars", |b| b.len() == 11 && b.values().filter(|v| v.1 == "VERIFIED").count() == 10)
            .await;
    for (t, bar) in &expected {
        assert_eq!(fixed.get(t), Some(&(*bar, "VERIFIED".to_string())), "minute {t}");
    }
    assert_eq!(fixed[&extra_minute].1, "SUSPECT");

    let checks = ch.query_rows("SELECT toString(outcome) AS o, count() AS n, max(differences) AS d FROM kline_checks FINAL GROUP BY o ORDER BY o").await.unwrap();
    let count = |o: &str| checks.iter().find(|r| r["o"] == o).map_or(0, |r| r["n"].as_u64().unwrap());
    assert_eq!((count("CORRECTED"), count("BACKFILLED"), count("UNCONFIRMED")), (9, 1, 1));
    assert!(checks.iter().any(|r| r["o"] == "CORRECTED" && r["d"].as_str().unwrap().contains("volume ")), "{checks:?}");

    // Completeness of the venue's ten minutes: all verified.
    let report_to = (START_MS + 10 * MINUTE).to_string();
    let out = tickwatch(&settings, &format!("reconcile report --from {from} --to {report_to} --format json"));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let day = &report["days"][0];
    assert_eq!(
        (day["venue"].as_str(), day["minutes"].as_i64(), day["verified"].as_i64()),
        (Some("okx"), Some(10), Some(10)),
        "{report}"
    );
    assert_eq!(day["verified_share"].as_f64(), Some(1.0));
    assert_eq!((day["corrected"].as_i64(), day["backfilled"].as_i64()), (Some(9), Some(1)));

    // Again: the corrected bars now match; nothing changes in the table.
    let said = text(&tickwatch(&settings, &once).stdout);
    assert!(said.contains(": 10 match, 0 corrected, 0 backfilled, 1 unconfirmed"), "{said}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(our_bars(&ch).await, fixed);
}
