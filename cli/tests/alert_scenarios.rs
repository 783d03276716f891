//! A scripted market through the whole alert path, every part real: fake Binance and OKX
//! replaying the script at its own pace → two ingestors → the trades transform (`.wasm`) →
//! `analytics run` (spreads) → `alerts engine` (killed and restarted once) → `alerts notify`
//! → an HTTP receiver standing in for Slack; and `sink clickhouse` putting the alerts in the
//! alerts table. The script makes exactly these alerts: one BTC spread episode, two ETH
//! episodes (silenced), and a two-instrument storm (one message each way); short blips and
//! the quiet instruments make none.

use axum::extract::State;
use axum::routing::post;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_fakes::synthetic::{write_recording, Event, Start};
use tickwatch_model::{wire, Alert, AlertState, AvroRecord};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_testkit::{free_port, repo_root, stack, unique, ChildGuard};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");

/// okx's price over binance's for an instrument at second `s` of the script, in bps.
fn premium_bps(instrument: usize, s: f64) -> i64 {
    let btc = instrument == 0;
    match s {
        s if (10.0..20.0).contains(&s) && btc => 20, // spread-btc: 10 s above 10 bps
        s if (25.0..35.0).contains(&s) && !btc => 20, // spread-eth: silenced
        s if (30.0..32.0).contains(&s) && btc => 20, // 2 s: too short for spread-btc
        s if (40.0..43.0).contains(&s) => 200,       // the storm, both instruments
        _ => 0,
    }
}

/// Both venues' trades every 200 ms for 56 s from `t0_ms`: binance at the base price, okx
/// at its premium.
fn script(t0_ms: i64) -> (Vec<Event>, Vec<Event>) {
    let base_cents = [5_000_000i64, 200_000]; // BTC 50 000.00, ETH 2 000.00
    let (mut binance, mut okx) = (Vec::new(), Vec::new());
    for step in 0..280i64 {
        let ms = t0_ms + step * 200;
        for (inst, base) in base_cents.iter().enumerate() {
            let px = |c: i64| format!("{}.{:02}", c / 100, c % 100);
            let okx_cents = base + base * premium_bps(inst, step as f64 * 0.2) / 10_000;
            let trade = |price: String, venue_ms: i64| Event::Trade {
                inst,
                ms: venue_ms,
                id: step + 1,
                px: price,
                qty: "0.5".into(),
                buy: step % 2 == 0,
            };
            binance.push(trade(px(*base), ms));
            okx.push(trade(px(okx_cents), ms + 7));
        }
    }
    (binance, okx)
}

fn recordings(dir: &Path, t0_ms: i64) -> (PathBuf, PathBuf) {
    let (b, o) = script(t0_ms);
    let start = || Start { bids: vec![["1.00".into(), "1".into()]], asks: vec![["2.00".into(), "1".into()]] };
    let (bdir, odir) = (dir.join("binance"), dir.join("okx"));
    write_recording("binance", &bdir, &["BTCUSDT".into(), "ETHUSDT".into()], &[start(), start()], &b).unwrap();
    write_recording("okx", &odir, &["BTC-USDT".into(), "ETH-USDT".into()], &[start(), start()], &o).unwrap();
    (bdir, odir)
}

fn log(prefix: &str, name: &str) -> std::fs::File {
    let dir = repo_root().join("target/test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::OpenOptions::new().create(true).append(true).open(dir.join(format!("{prefix}-{name}.log"))).unwrap()
}

/// `tickwatch <args>` against the stack, its log in target/test-logs/<prefix>-<name>.log.
fn spawn(prefix: &str, name: &str, args: &[&str]) -> ChildGuard {
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&stack().settings_path)
        .args(args)
        .stdout(Stdio::null())
        .stderr(log(prefix, name))
        .spawn()
        .unwrap_or_else(|e| panic!("tickwatch {args:?}: {e}"));
    ChildGuard(child)
}

fn ingest(prefix: &str, venue: &str, ws: &str, rest: &str) -> ChildGuard {
    let exchanges = std::env::temp_dir().join(format!("{prefix}-{venue}-exchanges.yaml"));
    std::fs::write(
        &exchanges,
        format!(
            "venues:\n  {venue}:\n    ws_url: {ws}\n    rest_url: {rest}\n    channels: [trades]\n    \
             instruments: [BTC-USDT, ETH-USDT]\n    snapshot_depth: 100\n    snapshot_check_period: 5m\n    \
             max_streams_per_connection: 50\n    subscribe_per_second: 10\n    \
             reconnect: {{initial_backoff: 50ms, max_backoff: 500ms, jitter: 0.2}}\n    rotate_after: 23h\n    \
             stall_after: 10m\n"
        ),
    )
    .unwrap();
    let port = free_port().to_string();
    let args = ["ingest", "--venue", venue, "--exchanges", exchanges.to_str().unwrap(), "--topic-prefix"];
    let listen = format!("127.0.0.1:{port}");
    let topic_prefix = format!("{prefix}.");
    let mut all: Vec<&str> = args.to_vec();
    all.extend([topic_prefix.as_str(), "--metrics-listen", listen.as_str()]);
    spawn(prefix, &format!("ingest-{venue}"), &all)
}

/// Slack stand-in: every webhook body it receives.
async fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/slack",
            post(
                |State(b): State<Arc<Mutex<Vec<serde_json::Value>>>>, body: axum::Json<serde_json::Value>| async move {
                    b.lock().unwrap().push(body.0);
                    "ok"
                },
            ),
        )
        .with_state(bodies.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slack", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

const TOPICS: &[&str] = &[
    "raw.trades",
    "raw.depth",
    "raw.reference",
    "dq.minute",
    "signals",
    "trades",
    "reference",
    "raw.trades.quarantine",
    "raw.depth.quarantine",
    "raw.reference.quarantine",
    "raw.dex.quarantine",
    "trades.quarantine",
    "price.smooth",
    "alerts",
];

/// Create the run's topics and wait until the broker shows every one of them (Tansu answers
/// the creation before its metadata lists the topic).
async fn create_topics(prefix: &str) {
    let names: Vec<String> = TOPICS.iter().map(|t| format!("{prefix}.{t}")).collect();
    let specs: Vec<TopicSpec> =
        names.iter().map(|t| TopicSpec { name: t.clone(), partitions: 1, replication: 1, configs: vec![] }).collect();
    broker::create_topics(&stack().broker(), &specs).await.unwrap();
    let c: BaseConsumer = broker::client_config(&stack().broker()).create().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in &names {
        while c
            .fetch_metadata(Some(name), Duration::from_secs(5))
            .map_or(true, |m| m.topics()[0].partitions().is_empty())
        {
            assert!(Instant::now() < deadline, "topic {name} never showed up");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn read_alerts(c: &BaseConsumer, seen: &mut Vec<Alert>, for_at_most: Duration) {
    let until = Instant::now() + for_at_most;
    while Instant::now() < until {
        let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
        let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
        let a = Alert::from_avro(datum).unwrap();
        assert_eq!(m.key(), Some(a.fingerprint.as_bytes()), "alerts are keyed by fingerprint");
        seen.push(a);
    }
}

/// (rule without the run's suffix, instrument, state) of each distinct alert record.
fn episodes(alerts: &[Alert], suffix: &str) -> BTreeSet<(String, String, String, i64)> {
    alerts
        .iter()
        .map(|a| {
            let rule = a.rule.trim_end_matches(suffix).to_string();
            (rule, a.instrument.clone().unwrap_or_default(), format!("{:?}", a.state), a.started_at_us)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scripted_market_fires_exactly_the_expected_alerts_and_notifications() {
    let _one_at_a_time = common::SERIAL.lock().await;
    let wasm = repo_root().join("target/wasm32-wasip1/wasm/tw-trades.wasm");
    assert!(wasm.exists(), "{} is missing: run `make transforms` first", wasm.display());
    let prefix = unique("alr");
    let suffix = format!("-{}", prefix.rsplit('-').next().unwrap());
    create_topics(&prefix).await;
    let dir = std::env::temp_dir().join(&prefix);
    let (slack_url, bodies) = receiver().await;
    let rules = dir.join("alerts.yaml");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &rules,
        format!(
            // A short wait, so that a firing is told before its resolution follows (the storm
            // lasts 2 s); an interval wide enough that changes of one group reaching the
            // notifier a second or two apart (a busy machine) are still told in one message.
            "defaults: {{group_wait: 500ms, group_interval: 5s, repeat_interval: 1h}}\nrules:\n\
             - {{name: spread-btc{suffix}, when: 'spread(binance, okx, BTC-USDT) > 10 bps for 5s', severity: P1}}\n\
             - {{name: spread-eth{suffix}, when: 'spread(okx, binance, ETH-USDT) > 10 bps for 2s'}}\n\
             - {{name: storm{suffix}, when: 'spread(*, *, *) > 100 bps for 1s'}}\n\
             - {{name: never{suffix}, when: 'spread(binance, okx, SOL-USDT) > 1 bps'}}\n\
             notifiers:\n  retry: {{attempts: 3, initial_backoff: 100ms, max_backoff: 1s}}\n  \
             slack: {{webhook_url: {{value: '{slack_url}'}}}}\n"
        ),
    )
    .unwrap();
    let analytics = dir.join("analytics.yaml");
    std::fs::write(
        &analytics,
        format!("spread: {{every: 1s, max_age: 5s}}\nema: {{intervals: []}}\nstate_prefix: '{prefix}:a:'\n"),
    )
    .unwrap();
    let sinks = dir.join("sinks.yaml");
    std::fs::write(&sinks, "clickhouse: {topics: [alerts], batch_ms: 200}\n").unwrap();
    let (rules_s, analytics_s, sinks_s) =
        (rules.to_str().unwrap(), analytics.to_str().unwrap(), sinks.to_str().unwrap());
    let (topic_prefix, state_prefix) = (format!("{prefix}."), format!("{prefix}:"));
    let group = |name: &str| format!("{prefix}-{name}");
    let worker = |name: &str, args: &[&str]| {
        let mut all = args.to_vec();
        let g = group(name);
        all.extend(["--topic-prefix", &topic_prefix, "--group", &g]);
        spawn(&prefix, name, &all)
    };
    // ETH spreads are silenced from the start.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&stack().settings_path)
        .args([
            "alerts",
            "silence",
            "add",
            "--state-prefix",
            &state_prefix,
            "--match",
            &format!("rule=spread-eth{suffix}"),
        ])
        .args(["--match", "instrument=ETH-USDT", "--for", "1h", "--comment", "scenario"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (input, output, quarantine) =
        (format!("{prefix}.raw.trades"), format!("{prefix}.trades"), format!("{prefix}.raw.trades.quarantine"));
    let host_group = group("host");
    let host_args = ["transform", "run", "--wasm", wasm.to_str().unwrap(), "--input", &input, "--output", &output];
    let host_args: Vec<&str> =
        host_args.into_iter().chain(["--output", quarantine.as_str(), "--group", host_group.as_str()]).collect();
    let _host = spawn(&prefix, "host", &host_args);
    let _analytics = worker("analytics", &["analytics", "run", "--analytics", analytics_s]);
    let mut engine = worker("engine", &["alerts", "engine", "--rules", rules_s, "--state-prefix", &state_prefix]);
    let _notify = worker("notify", &["alerts", "notify", "--rules", rules_s, "--state-prefix", &state_prefix]);
    let _sink = worker("sink", &["sink", "clickhouse", "--sinks", sinks_s]);
    let t0_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let (bdir, odir) = recordings(&dir, t0_ms);
    let (_fake_b, bws, brest) = common::fake_venue_at("binance", &bdir, 1.0, &[]);
    let (_fake_o, ows, orest) = common::fake_venue_at("okx", &odir, 1.0, &[]);
    let _ingest_b = ingest(&prefix, "binance", &bws, &brest);
    let _ingest_o = ingest(&prefix, "okx", &ows, &orest);

    let c: BaseConsumer = broker::client_config(&stack().broker()).set("group.id", unique("reader")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&format!("{prefix}.alerts"), 0, Offset::Offset(0)).unwrap();
    c.assign(&tpl).unwrap();
    let mut alerts = Vec::new();
    // The engine is SIGKILLed once, right after its first alert, and started again.
    let deadline = Instant::now() + Duration::from_secs(120);
    while alerts.is_empty() {
        assert!(Instant::now() < deadline, "no alert within 2 minutes; logs in target/test-logs/{prefix}-*.log");
        read_alerts(&c, &mut alerts, Duration::from_millis(200));
    }
    engine.0.kill().unwrap();
    engine.0.wait().unwrap();
    let _engine = worker("engine", &["alerts", "engine", "--rules", rules_s, "--state-prefix", &state_prefix]);

    let s = |rule: &str, inst: &str, state: &str| (rule.to_string(), inst.to_string(), state.to_string());
    let want: BTreeSet<(String, String, String)> = [
        s("spread-btc", "BTC-USDT", "Firing"),
        s("spread-btc", "BTC-USDT", "Resolved"),
        s("spread-eth", "ETH-USDT", "Firing"),
        s("spread-eth", "ETH-USDT", "Resolved"),
        s("storm", "BTC-USDT", "Firing"),
        s("storm", "BTC-USDT", "Resolved"),
        s("storm", "ETH-USDT", "Firing"),
        s("storm", "ETH-USDT", "Resolved"),
    ]
    .into();
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        read_alerts(&c, &mut alerts, Duration::from_millis(500));
        let got = episodes(&alerts, &suffix);
        let eth_episodes = got.iter().filter(|e| e.0 == "spread-eth" && e.2 == "Resolved").count();
        let kinds: BTreeSet<_> = got.iter().map(|(r, i, st, _)| (r.clone(), i.clone(), st.clone())).collect();
        if kinds == want && eth_episodes == 2 && bodies.lock().unwrap().len() >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "alerts so far: {got:?}; {} notifications", bodies.lock().unwrap().len());
    }
    // Nothing more arrives once the script is over.
    read_alerts(&c, &mut alerts, Duration::from_secs(5));
    let got = episodes(&alerts, &suffix);
    assert_eq!(got.len(), 10, "1 BTC, 2 ETH and 2 storm episodes, each firing and resolving once: {got:?}");
    for (rule, _, state, started) in &got {
        let at = (started / 1000 - t0_ms) as f64 / 1000.0;
        // Which part of the script each episode belongs to: BTC's premium at 10 s, ETH's at
        // 25 s, the storm (both instruments, also ETH's rule) at 40 s. A spread is read when
        // a trade of either venue arrives, against the other venue's last price, at most once
        // a second of event time; when one ingestor runs behind the other on a loaded
        // machine, the first reading above the threshold can come up to ~2 s into a part.
        let parts: &[std::ops::Range<f64>] = match rule.as_str() {
            "spread-btc" => &[9.5..12.0],
            "storm" => &[39.5..42.5],
            _ => &[24.5..27.0, 39.5..42.5],
        };
        assert!(parts.iter().any(|p| p.contains(&at)), "{rule} {state} started at {at:.3} s");
    }
    let eth_starts: BTreeSet<i64> = got.iter().filter(|e| e.0 == "spread-eth").map(|e| e.3).collect();
    let eth_in_storm = eth_starts.iter().filter(|s| (**s / 1000 - t0_ms) as f64 / 1000.0 > 39.0).count();
    assert_eq!((eth_starts.len(), eth_in_storm), (2, 1), "one ETH episode at 25 s, one in the storm: {got:?}");
    let firing_btc = alerts.iter().find(|a| a.rule.starts_with("spread-btc") && a.state == AlertState::Firing).unwrap();
    assert!(firing_btc.value.unwrap() > 10.0 && firing_btc.threshold == Some(10.0));
    // The engine's duration: fired at least 5 s of event time after the condition began.
    assert!(firing_btc.emitted_at_us - firing_btc.started_at_us >= 5_000_000);

    // Slack: spread-btc firing, resolved; the storm's two alerts firing together, resolved
    // together; nothing of the silenced ETH rule.
    let texts: Vec<String> =
        bodies.lock().unwrap().iter().map(|b| b["text"].as_str().unwrap_or_default().to_string()).collect();
    let heads: Vec<String> = texts.iter().map(|t| t.lines().next().unwrap_or_default().replace(&suffix, "")).collect();
    assert_eq!(
        heads.iter().map(|h| h.as_str()).collect::<Vec<_>>(),
        vec!["FIRING P1 spread-btc", "RESOLVED P1 spread-btc", "FIRING P2 storm", "RESOLVED P2 storm"],
        "{texts:#?}"
    );
    let storm = serde_json::to_string(&bodies.lock().unwrap()[2]).unwrap();
    assert!(storm.contains("BTC-USDT") && storm.contains("ETH-USDT"), "one message for the storm: {storm}");
    assert!(!texts.iter().any(|t| t.contains("spread-eth")), "silenced");

    // ClickHouse: the same distinct alerts.
    let ch = ClickHouse::new(&stack().settings.clickhouse);
    let sql = format!("SELECT count() AS n FROM (SELECT DISTINCT fingerprint, state, started_at FROM alerts FINAL WHERE rule LIKE '%{suffix}')");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = &ch.query_rows(&sql).await.unwrap()[0]["n"];
        let n = row.as_u64().or_else(|| row.as_str().and_then(|n| n.parse().ok())).unwrap_or(0);
        if n == 10 {
            break;
        }
        assert!(Instant::now() < deadline, "{n} alert rows in ClickHouse, want 10");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Data-quality rules from a misbehaving venue: a fake OKX that closes every connection after
/// 60 frames makes a reconnect storm on both instruments (the ingestor counts reconnects per
/// minute), which fires exactly the reconnect rule for each, in one Slack message; frames that
/// stay in order and unrepeated fire neither the disorder nor the duplicate rule.
#[tokio::test(flavor = "multi_thread")]
async fn a_reconnect_storm_fires_the_quality_rule_and_nothing_else() {
    let _one_at_a_time = common::SERIAL.lock().await;
    let prefix = unique("dqs");
    let suffix = format!("-{}", prefix.rsplit('-').next().unwrap());
    create_topics(&prefix).await;
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let market = tickwatch_fakes::synthetic::Synthetic {
        seed: 3,
        instruments: 2,
        seconds: 400,
        trades_per_second: 8.0,
        depth_per_second: 2.0,
    };
    let (starts, events) = market.events();
    write_recording("okx", &dir, &["BTC-USDT".into(), "ETH-USDT".into()], &starts, &events).unwrap();
    let (slack_url, bodies) = receiver().await;
    let rules = dir.join("alerts.yaml");
    std::fs::write(
        &rules,
        format!(
            "defaults: {{group_wait: 1s, group_interval: 1s, repeat_interval: 1h}}\nrules:\n\
             - {{name: reconnect-storm{suffix}, when: 'reconnects(okx, *, trades) > 3', severity: P1}}\n\
             - {{name: disorder{suffix}, when: 'out_of_order(okx, *, trades) > 2 %'}}\n\
             - {{name: repeats{suffix}, when: 'duplicates(*, *) > 0'}}\n\
             notifiers:\n  slack: {{webhook_url: {{value: '{slack_url}'}}}}\n"
        ),
    )
    .unwrap();
    let analytics = dir.join("analytics.yaml");
    std::fs::write(&analytics, format!("ema: {{intervals: []}}\nstate_prefix: '{prefix}:a:'\n")).unwrap();
    let (rules_s, analytics_s) = (rules.to_str().unwrap(), analytics.to_str().unwrap());
    let (topic_prefix, state_prefix) = (format!("{prefix}."), format!("{prefix}:"));
    let worker = |name: &str, args: &[&str]| {
        let mut all = args.to_vec();
        let g = format!("{prefix}-{name}");
        all.extend(["--topic-prefix", &topic_prefix, "--group", &g]);
        spawn(&prefix, name, &all)
    };
    let _analytics = worker("analytics", &["analytics", "run", "--analytics", analytics_s]);
    let _engine = worker("engine", &["alerts", "engine", "--rules", rules_s, "--state-prefix", &state_prefix]);
    let _notify = worker("notify", &["alerts", "notify", "--rules", rules_s, "--state-prefix", &state_prefix]);
    let (_fake, ws, rest) = common::fake_venue_at("okx", &dir, 1.0, &["--disconnect-after", "60"]);
    let _ingest = ingest(&prefix, "okx", &ws, &rest);

    let c: BaseConsumer = broker::client_config(&stack().broker()).set("group.id", unique("reader")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&format!("{prefix}.alerts"), 0, Offset::Offset(0)).unwrap();
    c.assign(&tpl).unwrap();
    let mut alerts = Vec::new();
    // The first whole minute closes within two minutes, plus the ingestor's grace.
    let deadline = Instant::now() + Duration::from_secs(200);
    while episodes(&alerts, &suffix).len() < 2 || bodies.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "alerts so far: {:?}", episodes(&alerts, &suffix));
        read_alerts(&c, &mut alerts, Duration::from_millis(500));
    }
    read_alerts(&c, &mut alerts, Duration::from_secs(3));
    let got: BTreeSet<(String, String, String)> =
        episodes(&alerts, &suffix).into_iter().map(|(r, i, s, _)| (r, i, s)).collect();
    let want: BTreeSet<(String, String, String)> = ["BTC-USDT", "ETH-USDT"]
        .iter()
        .map(|i| ("reconnect-storm".to_string(), i.to_string(), "Firing".to_string()))
        .collect();
    assert_eq!(got, want);
    let storm = alerts.iter().find(|a| a.rule.starts_with("reconnect-storm")).unwrap();
    assert!(storm.value.unwrap() > 3.0 && storm.labels.get("channel").map(String::as_str) == Some("trades"));
    let first = serde_json::to_string(&bodies.lock().unwrap()[0]).unwrap();
    assert!(first.contains("FIRING P1 reconnect-storm"), "{first}");
    assert!(first.contains("BTC-USDT") && first.contains("ETH-USDT"), "both in one message: {first}");
}
