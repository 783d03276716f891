//! `tickwatch api serve` against the real stack: history from ClickHouse (paging, exact
//! decimals, corrections, factors, quality), hot values followed from the topics, books from
//! the real book worker through Redis, alerts and silences, errors, keys and rate limits,
//! and every route of the OpenAPI document.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_model::*;
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_testkit::produce::send_records;
use tickwatch_testkit::{free_port, repo_root, stack, unique, ChildGuard};

const MIN_US: i64 = 60_000_000;
const TOPICS: [&str; 7] = ["trades", "reference", "book.1s", "signals", "price.smooth", "alerts", "depth"];

/// One test at a time: the broker and the ClickHouse engine share two cores with the stages.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Create the topics and wait until the broker lists each (Tansu has acknowledged creations
/// it then did not show; those are created again).
async fn create_visible(specs: &[TopicSpec]) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let b = stack().broker();
    let probe: BaseConsumer = broker::client_config(&b).create().unwrap();
    for attempt in 0..10 {
        broker::create_topics(&b, specs).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
        let missing: Vec<&str> = specs
            .iter()
            .map(|s| s.name.as_str())
            .filter(|t| {
                probe.fetch_metadata(Some(t), Duration::from_secs(5)).map_or(true, |m| {
                    m.topics().first().is_none_or(|t| t.error().is_some() || t.partitions().is_empty())
                })
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        eprintln!("topics not visible yet, creating again: {missing:?}");
    }
    panic!("the broker never listed the test's topics");
}

fn spawn(prefix: &str, name: &str, args: &[&str]) -> ChildGuard {
    let log = repo_root().join(format!("target/test-logs/{prefix}-{name}.log"));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .arg("--config")
        .arg(&stack().settings_path)
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("tickwatch starts");
    ChildGuard(child)
}

/// An API on a free port with `yaml` as its settings, following `<prefix>.*`; waits for /readyz.
async fn api(prefix: &str, name: &str, yaml: &str) -> (ChildGuard, String) {
    let specs: Vec<TopicSpec> = TOPICS
        .iter()
        .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    create_visible(&specs).await;
    let cfg = std::env::temp_dir().join(format!("{prefix}-{name}.yaml"));
    std::fs::write(&cfg, yaml).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let topic_prefix = format!("{prefix}.");
    let args = ["api", "serve", "--api", cfg.to_str().unwrap(), "--listen", &listen, "--topic-prefix", &topic_prefix];
    let child = spawn(prefix, name, &args);
    let base = format!("http://{listen}");
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < until, "the API did not become ready; see target/test-logs/{prefix}-{name}.log");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (child, base)
}

async fn get(base: &str, path: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(k) = key {
        req = req.header("X-API-Key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn ok(base: &str, path: &str) -> Value {
    let (status, body) = get(base, path, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// Ask until `done` holds for the answer (the followed topics arrive independently).
async fn eventually(base: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let v = ok(base, path).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < until, "{path} never answered as expected: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn clickhouse(sql: &str) {
    let ch = tickwatch_runtime::clickhouse::ClickHouse::new(&stack().settings.clickhouse);
    ch.execute(sql).await.unwrap();
}

/// Insert k-line rows written as `(venue, instrument, interval, open_time, close_time, open,
/// high, low, close, volume, quote_volume, vwap, trade_count, taker_buy_volume,
/// taker_buy_quote_volume, first_trade_id, last_trade_id, version, verification, emitted_at)`.
async fn insert_klines(rows: &[String]) {
    clickhouse(&format!(
        "INSERT INTO klines (venue, instrument, interval, open_time, close_time, open, high, low, close, volume, \
         quote_volume, vwap, trade_count, taker_buy_volume, taker_buy_quote_volume, first_trade_id, last_trade_id, \
         version, verification, emitted_at) VALUES {}",
        rows.join(",")
    ))
    .await;
}

fn ts(us: i64) -> String {
    format!("fromUnixTimestamp64Micro(toInt64({us}))")
}

/// A minute 2 to 6 days back, picked from the test day (inside the 7-day TTL of book windows).
fn recent_us(day: i64) -> i64 {
    let now_min = tickwatch_runtime::produce::now_us() / MIN_US;
    (now_min - 2 * 1440 - (day / MIN_US) % (4 * 1440)) * MIN_US
}

/// One UTC day no other test writes: picked from the prefix.
fn test_day_us(prefix: &str) -> i64 {
    let h = prefix.bytes().fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
    (1_735_689_600 + (h % 300) as i64 * 86_400) * 1_000_000 // 2025-01-01 + 0..300 days
}

async fn seed_history(day: i64) {
    let mut rows = Vec::new();
    for m in 0..1440i64 {
        let open = day + m * MIN_US;
        rows.push(format!(
            "('binance','BTC-USDT','1m',{},{},'{}.000000000000000001','{m}.5','{m}','{m}.25','1.5','{m}','{m}.1',{m},'0.5','0','a','b',1,'UNVERIFIED',now64(6))",
            ts(open),
            ts(open + MIN_US - 1),
            100 + m
        ));
    }
    // okx: 45 of the first 60 minutes have a bar.
    for m in (0..60i64).filter(|m| m % 4 != 3) {
        rows.push(format!(
            "('okx','BTC-USDT','1m',{},{},'1','1','1','1','1','1','1',1,'0','0','a','b',1,'UNVERIFIED',now64(6))",
            ts(day + m * MIN_US),
            ts(day + (m + 1) * MIN_US - 1)
        ));
    }
    // A correction of binance's first bar: version 2 replaces it.
    rows.push(format!(
        "('binance','BTC-USDT','1m',{},{},'100.000000000000000001','1','0','0.75','2','0','0.1',2,'0','0','a','c',2,'VERIFIED',now64(6))",
        ts(day),
        ts(day + MIN_US - 1)
    ));
    insert_klines(&rows).await;
    // Factors: book windows keep 7 days (their TTL), so these go on a recent stretch of
    // binance ETH-USDT, with bars for 10 minutes and book windows for the first 5.
    let recent = recent_us(day);
    let bars: Vec<String> = (0..10i64)
        .map(|m| {
            format!(
                "('binance','ETH-USDT','1m',{},{},'1','1','1','1','1','1','{m}.1',1,'0','0','a','b',1,'UNVERIFIED',now64(6))",
                ts(recent + m * MIN_US),
                ts(recent + (m + 1) * MIN_US - 1)
            )
        })
        .collect();
    insert_klines(&bars).await;
    let books: Vec<String> = (0..5i64)
        .map(|m| {
            let (s, e) = (recent + m * MIN_US, recent + (m + 1) * MIN_US);
            format!("('binance','ETH-USDT','1m',{},{},{m},1,'1','2','2','3',10,'4','6',-0.2,1,now64(6))", ts(s), ts(e))
        })
        .collect();
    clickhouse(&format!(
        "INSERT INTO book_tops (venue, instrument, interval, window_start, window_end, last_update_id, updates, bid_price, \
         bid_size, ask_price, ask_size, depth_levels, bid_depth, ask_depth, imbalance, version, emitted_at) VALUES {}",
        books.join(",")
    ))
    .await;
    let dq: Vec<String> = ["binance", "okx"]
        .iter()
        .flat_map(|v| {
            (0..60i64).map(move |m| {
                format!(
                    "('{v}','BTC-USDT','trades',{},100,{},NULL,0,0,{},0,0,0,{})",
                    ts(day + m * MIN_US),
                    m % 2,
                    (m == 7) as i32,
                    10 + m
                )
            })
        })
        .collect();
    clickhouse(&format!(
        "INSERT INTO data_quality_minute (venue, instrument, channel, minute, messages, gaps, lost_messages, out_of_order, \
         duplicates, reconnects, resyncs, quarantined, max_silence_ms, source_lag_p95_ms) VALUES {}",
        dq.join(",")
    ))
    .await;
}

fn config(prefix: &str, extra: &str) -> String {
    format!(
        "dashboard_dir: {}\ncache: {{history_ttl: 60s}}\nhot: {{redis_prefix: \"{prefix}:hot:\"}}\n\
         alerts_state_prefix: \"{prefix}:alerts:\"\nrate_limit: {{per_second: 1000, burst: 1000}}\n{extra}",
        repo_root().join("api/dashboard").display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn history_comes_from_clickhouse_paged_exact_and_final() {
    let _serial = SERIAL.lock().await;
    let prefix = unique("apih");
    let day = test_day_us(&prefix);
    seed_history(day).await;
    let (_api, base) = api(&prefix, "api", &config(&prefix, "")).await;
    let (from, to) = (day / 1000, day / 1000 + 86_400_000);

    // Paging: 1440 bars in pages of 500, each once, ascending.
    let mut all = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let path = format!(
            "/api/v1/klines?venue=binance&instrument=BTC-USDT&interval=1m&from={from}&to={to}&limit=500{cursor}"
        );
        let page = ok(&base, &path).await;
        pages += 1;
        all.extend(page["items"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((pages, all.len()), (3, 1440));
    let opens: Vec<i64> = all.iter().map(|k| k["open_time_ms"].as_i64().unwrap()).collect();
    assert!(opens.windows(2).all(|w| w[1] - w[0] == 60_000), "ascending minutes, none twice");
    assert_eq!(opens[0], from);
    // Exact decimals, and the corrected first bar (version 2) is the one served.
    assert_eq!(all[0]["open"], "100.000000000000000001");
    assert_eq!(
        (all[0]["close"].as_str(), all[0]["version"].as_i64(), all[0]["verification"].as_str()),
        (Some("0.75"), Some(2), Some("VERIFIED"))
    );
    assert_eq!(all[1439]["open"], "1539.000000000000000001");
    assert_eq!(all[1439]["close"], "1439.25");

    // RFC 3339 gives the same answer as milliseconds.
    let iso =
        ok(&base, &format!("/api/v1/klines?venue=okx&instrument=BTC-USDT&from={from}&to={}", from + 3_600_000)).await;
    assert_eq!(iso["items"].as_array().unwrap().len(), 45);

    // The history cache: a bar written now is not in the same question's answer within the
    // TTL, and is in a different question's.
    insert_klines(&[format!(
        "('okx','BTC-USDT','1m',{},{},'1','1','1','1','1','1','1',1,'0','0','a','b',1,'UNVERIFIED',now64(6))",
        ts(day + 3 * MIN_US),
        ts(day + 4 * MIN_US - 1)
    )])
    .await;
    let again =
        ok(&base, &format!("/api/v1/klines?venue=okx&instrument=BTC-USDT&from={from}&to={}", from + 3_600_000)).await;
    assert_eq!(again["items"].as_array().unwrap().len(), 45, "answered from the cache");
    let other = ok(
        &base,
        &format!("/api/v1/klines?venue=okx&instrument=BTC-USDT&from={from}&to={}&limit=499", from + 3_600_000),
    )
    .await;
    assert_eq!(other["items"].as_array().unwrap().len(), 46, "a new question reads ClickHouse");

    // Factors: VWAP from the bars, imbalance from the book windows (first 5 minutes only).
    let recent = recent_us(day) / 1_000;
    let f =
        ok(&base, &format!("/api/v1/factors?venue=binance&instrument=ETH-USDT&from={recent}&to={}", recent + 600_000))
            .await;
    let f = f["items"].as_array().unwrap();
    assert_eq!(f.len(), 10);
    assert_eq!(
        (f[0]["vwap"].as_str(), f[0]["imbalance"].as_f64(), f[0]["bid_depth"].as_str()),
        (Some("0.1"), Some(-0.2), Some("4"))
    );
    assert_eq!((f[9]["vwap"].as_str(), &f[9]["imbalance"]), (Some("9.1"), &Value::Null));

    // Quality: per minute, and the summary with completeness 1 (binance) and 45/60 (okx).
    let q = ok(
        &base,
        &format!("/api/v1/quality?venue=okx&instrument=BTC-USDT&from={from}&to={}&limit=100", from + 3_600_000),
    )
    .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 60);
    let s =
        ok(&base, &format!("/api/v1/quality/summary?instrument=BTC-USDT&from={from}&to={}", from + 3_600_000)).await;
    let s = s["items"].as_array().unwrap();
    let row = |v: &str| s.iter().find(|r| r["venue"] == v).unwrap_or_else(|| panic!("{v} in {s:?}")).clone();
    let (b, o) = (row("binance"), row("okx"));
    assert_eq!(
        (b["minutes"].as_i64(), b["messages"].as_i64(), b["gaps"].as_i64(), b["reconnects"].as_i64()),
        (Some(60), Some(6000), Some(30), Some(1))
    );
    assert_eq!(b["completeness"].as_f64(), Some(1.0));
    // One bar was added above (minute 3 had none): 46 of 60.
    assert!((o["completeness"].as_f64().unwrap() - 46.0 / 60.0).abs() < 1e-9, "{o}");
    let slo = ok(&base, &format!("/api/v1/slo?from={from}&to={}", from + 3_600_000)).await;
    let okx = slo["venues"].as_array().unwrap().iter().find(|v| v["venue"] == "okx").cloned().unwrap();
    assert_eq!(okx["completeness_met"], false);
    assert_eq!(okx["reconnects"], 1);

    // `tickwatch slo` gives the same report, as JSON and as a table marking the missed target.
    let slo_cli = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
            .arg("--config")
            .arg(&stack().settings_path)
            .args(["slo", "--from", &from.to_string(), "--to", &(from + 3_600_000).to_string(), "--format", format])
            .output()
            .expect("tickwatch slo runs");
        assert!(out.status.success(), "tickwatch slo: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(serde_json::from_str::<Value>(&slo_cli("json")).unwrap(), slo);
    let table = slo_cli("table");
    let okx_line = table.lines().find(|l| l.starts_with("okx")).unwrap_or_else(|| panic!("okx in {table}"));
    assert!(okx_line.contains("MISSED 76.667"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hot_values_follow_the_topics_and_books_come_from_the_book_worker() {
    let _serial = SERIAL.lock().await;
    let prefix = unique("apil");
    let b = stack().broker();
    let specs: Vec<TopicSpec> = TOPICS
        .iter()
        .chain(&["book.5s", "book.1m", "raw.depth.quarantine"])
        .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    create_visible(&specs).await;
    let (_api, base) = api(&prefix, "api", &config(&prefix, "")).await;
    let _book = spawn(
        &prefix,
        "book",
        &[
            "windows",
            "book",
            "--topic-prefix",
            &format!("{prefix}."),
            "--group",
            &format!("{prefix}-book"),
            "--hot-books-prefix",
            &format!("{prefix}:hot:"),
        ],
    );
    let registry = RegistryClient::new(&stack().settings.registry.url);
    let id = |s: &'static str, t: &'static str| {
        let (registry, prefix) = (registry.clone(), prefix.clone());
        async move { registry.register(&format!("{prefix}.{t}-value"), s).await.unwrap() }
    };
    let producer = ReliableProducer::new(&b).unwrap();
    let now = tickwatch_runtime::produce::now_us();
    let trade = Trade {
        venue: "binance".into(),
        instrument: "BTC-USDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: "BTCUSDT".into(),
        trade_id: prefix.clone(),
        price: "64123.123456789012345678".parse().unwrap(),
        size: "0.00012".parse().unwrap(),
        taker_side: TakerSide::Sell,
        event_time_us: now,
        receive_time_us: now + 1_500,
        source_lag_ms: 1,
        sequence: None,
    };
    let older = Trade { trade_id: "older".into(), event_time_us: now - 10_000_000, ..trade.clone() };
    let trades_id = id(Trade::SCHEMA_JSON, "trades").await;
    send_records(&producer, &format!("{prefix}.trades"), trades_id, |t: &Trade| t.instrument.clone(), &[trade, older])
        .await;
    let spread = Signal {
        kind: "spread".into(),
        venue: "binance".into(),
        venue_b: Some("okx".into()),
        instrument: "BTC-USDT".into(),
        channel: None,
        interval: None,
        value: 12.5,
        unit: "bps".into(),
        at_us: now,
        emitted_at_us: now,
    };
    let signals_id = id(Signal::SCHEMA_JSON, "signals").await;
    send_records(&producer, &format!("{prefix}.signals"), signals_id, |s: &Signal| s.instrument.clone(), &[spread])
        .await;
    let alert = |state: AlertState, at: i64| Alert {
        fingerprint: format!("{prefix}/binance/BTC-USDT"),
        rule: prefix.clone(),
        severity: AlertSeverity::P2,
        state,
        venue: Some("binance".into()),
        instrument: Some("BTC-USDT".into()),
        value: Some(12.5),
        threshold: Some(10.0),
        summary: "wide".into(),
        labels: [("venue".to_string(), "binance".to_string())].into(),
        started_at_us: now,
        emitted_at_us: at,
    };
    let alerts_id = id(Alert::SCHEMA_JSON, "alerts").await;
    send_records(
        &producer,
        &format!("{prefix}.alerts"),
        alerts_id,
        |a: &Alert| a.fingerprint.clone(),
        &[alert(AlertState::Firing, now)],
    )
    .await;
    let level = |p: &str, s: &str| PriceLevel { price: p.parse().unwrap(), size: s.parse().unwrap() };
    let snapshot = BookUpdate {
        venue: "okx".into(),
        instrument: "BTC-USDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: "BTC-USDT".into(),
        update_kind: BookUpdateKind::Snapshot,
        first_update_id: None,
        last_update_id: 7,
        prev_update_id: None,
        checksum: None,
        bids: (0..30).map(|i| level(&format!("{}.5", 100 - i), "1.25")).collect(),
        asks: vec![level("101.5", "0.001"), level("102", "3")],
        event_time_us: now,
        receive_time_us: now,
        source_lag_ms: 0,
    };
    let delta = BookUpdate {
        update_kind: BookUpdateKind::Delta,
        last_update_id: 8,
        bids: vec![level("100.5", "0")],
        asks: vec![level("101", "2")],
        event_time_us: now + 1_000,
        ..snapshot.clone()
    };
    let depth_id = id(BookUpdate::SCHEMA_JSON, "depth").await;
    send_records(
        &producer,
        &format!("{prefix}.depth"),
        depth_id,
        |u: &BookUpdate| u.instrument.clone(),
        &[snapshot, delta],
    )
    .await;

    // The latest trade is the newest by event time, exact.
    let until = Instant::now() + Duration::from_secs(60);
    let latest = loop {
        let l = ok(&base, "/api/v1/latest?venue=binance&instrument=BTC-USDT").await;
        if l["items"][0]["trade"]["trade_id"] == json!(prefix) {
            break l;
        }
        assert!(Instant::now() < until, "the followed trade never showed: {l}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let t = &latest["items"][0]["trade"];
    assert_eq!(
        (t["price"].as_str(), t["size"].as_str(), t["side"].as_str()),
        (Some("64123.123456789012345678"), Some("0.00012"), Some("SELL"))
    );
    assert_eq!(t["event_time_ms"].as_i64(), Some(now / 1000));
    assert_eq!(t["receive_time_ms"].as_i64(), Some((now + 1_500) / 1000));
    let spread =
        |v: &Value| v["items"].as_array().unwrap().iter().any(|s| s["value"] == 12.5 && s["at_ms"] == now / 1000);
    eventually(&base, "/api/v1/spreads?instrument=BTC-USDT&venue=okx", spread).await;
    let firing =
        eventually(&base, &format!("/api/v1/alerts?rule={prefix}"), |v| !v["items"].as_array().unwrap().is_empty())
            .await;
    assert_eq!(firing["items"].as_array().unwrap().len(), 1, "{firing}");
    assert_eq!(
        (firing["items"][0]["state"].as_str(), firing["items"][0]["severity"].as_str()),
        (Some("FIRING"), Some("P2"))
    );
    send_records(
        &producer,
        &format!("{prefix}.alerts"),
        alerts_id,
        |a: &Alert| a.fingerprint.clone(),
        &[alert(AlertState::Resolved, now + 1)],
    )
    .await;
    let until = Instant::now() + Duration::from_secs(30);
    while !ok(&base, &format!("/api/v1/alerts?rule={prefix}")).await["items"].as_array().unwrap().is_empty() {
        assert!(Instant::now() < until, "the resolution never showed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The book worker's snapshot + delta, through Redis: best first, exact, `depth` levels.
    let until = Instant::now() + Duration::from_secs(90);
    let book = loop {
        let (status, body) = get(&base, "/api/v1/book?venue=okx&instrument=BTC-USDT&depth=3", None).await;
        if status == StatusCode::OK && body["last_update_id"] == 8 {
            break body;
        }
        assert!(Instant::now() < until, "no book: {status} {body}; see target/test-logs/{prefix}-book.log");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(book["bids"], json!([["99.5", "1.25"], ["98.5", "1.25"], ["97.5", "1.25"]]));
    assert_eq!(book["asks"], json!([["101", "2"], ["101.5", "0.001"], ["102", "3"]]));
    let (status, _) = get(&base, "/api/v1/book?venue=binance&instrument=ETH-USDT", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_name_the_fix_and_keys_and_limits_hold() {
    let _serial = SERIAL.lock().await;
    let prefix = unique("apie");
    let keys = "api_keys:\n  keys:\n    - {name: tenant-a, key: {value: key-a}, rate: {per_second: 0.2, burst: 4}, venues: [okx]}\n";
    let (_api, base) = api(&prefix, "api", &config(&prefix, keys)).await;
    let cases = [
        ("/api/v1/klines?venue=binance", 400, "bad_parameter", Some("instrument")),
        ("/api/v1/klines?venue=nowhere&instrument=BTC-USDT", 400, "bad_parameter", Some("venue")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&interval=7m", 400, "bad_parameter", Some("interval")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&from=yesterday", 400, "bad_parameter", Some("from")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&from=2000&to=1000", 400, "bad_parameter", Some("from")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&limit=0", 400, "bad_parameter", Some("limit")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&limit=5001", 400, "bad_parameter", Some("limit")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&cursor=zz", 400, "bad_parameter", Some("cursor")),
        // A well-formed cursor of another route ([0, ""]: two keys; k-lines page by one).
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&cursor=5b302c22225d", 400, "bad_parameter", Some("cursor")),
        // One key of the wrong type (["x"] where k-lines page by a time).
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&cursor=5b2278225d", 400, "bad_parameter", Some("cursor")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&from=0&to=99999999999", 400, "bad_parameter", Some("to")),
        ("/api/v1/latest?instrumnet=BTC-USDT", 400, "bad_parameter", Some("instrumnet")),
        ("/api/v1/alerts?state=sleeping", 400, "bad_parameter", Some("state")),
        ("/api/v1/klines?venue=binance&instrument=DOGE-USDT", 404, "unknown_instrument", None),
        ("/api/v1/spreads?instrument=NOPE-USDT", 404, "unknown_instrument", None),
        ("/api/v1/nothing", 404, "unknown_route", None),
    ];
    for (path, status, code, parameter) in cases {
        let (s, body) = get(&base, path, None).await;
        assert_eq!(s.as_u16(), status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert_eq!(body["error"]["parameter"].as_str(), parameter, "{path}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }

    // A tenant: its venues only, its own bucket, then 429 with Retry-After.
    let (s, body) = get(&base, "/api/v1/instruments", Some("key-a")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["items"].as_array().unwrap().iter().all(|i| i["venue"] == "okx"), "{body}");
    let (s, body) = get(&base, "/api/v1/klines?venue=binance&instrument=BTC-USDT", Some("key-a")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("venue_forbidden")));
    let (s, _) = get(&base, "/api/v1/latest?venue=okx", Some("key-a")).await;
    assert_eq!(s, StatusCode::OK);
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/latest?venue=okx"))
        .header("X-API-Key", "key-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the 4th token of the burst");
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/latest?venue=okx"))
        .header("X-API-Key", "key-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    // Other callers have their own buckets.
    assert_eq!(get(&base, "/api/v1/latest?venue=okx", None).await.0, StatusCode::OK);
    let (s, body) = get(&base, "/api/v1/latest", Some("wrong")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_api_key")));

    // Silences: create, list, shared with the notifier's store, delete.
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/silences"))
        .json(&json!({"matchers": {"rule": "spread_wide", "instrument": "BTC-USDT"}, "duration": "2h", "comment": "maintenance"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["ends_at_ms"].as_i64().unwrap() - created["starts_at_ms"].as_i64().unwrap(), 7_200_000);
    let mut store = tickwatch_alerts::silences::Silences::new(&stack().redis_url, &format!("{prefix}:alerts:"));
    let stored = store.list().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].id.as_str(), stored[0].matchers["rule"].as_str()), (id.as_str(), "spread_wide"));
    let listed = ok(&base, "/api/v1/silences").await;
    assert_eq!(listed["items"][0]["id"], json!(id));
    let bad = client
        .post(format!("{base}/api/v1/silences"))
        .json(&json!({"matchers": {}, "duration": "2h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["parameter"], "matchers");
    let bad = client
        .post(format!("{base}/api/v1/silences"))
        .json(&json!({"matchers": {"rule": "x"}, "duration": "soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.json::<Value>().await.unwrap()["error"]["parameter"], "duration");
    assert_eq!(
        client.delete(format!("{base}/api/v1/silences/{id}")).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        client.delete(format!("{base}/api/v1/silences/{id}")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert!(store.list().unwrap().is_empty());

    // Keys required: a request without one is refused, with one it passes.
    let required = "api_keys:\n  require: true\n  keys:\n    - {name: t, key: {value: key-t}}\n";
    let (_api2, base2) = api(&prefix, "api2", &config(&prefix, required)).await;
    let (s, body) = get(&base2, "/api/v1/instruments", None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("api_key_required")));
    assert_eq!(get(&base2, "/api/v1/instruments", Some("key-t")).await.0, StatusCode::OK);
    assert_eq!(get(&base2, "/healthz", None).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_route_answers_and_takes_its_documented_parameters() {
    let _serial = SERIAL.lock().await;
    let prefix = unique("apio");
    let (_api, base) = api(&prefix, "api", &config(&prefix, "")).await;
    let doc = ok(&base, "/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 16, "{} paths", paths.len());
    let value = |name: &str| match name {
        "venue" => "binance",
        "venue_b" => "okx",
        "instrument" => "BTC-USDT",
        "interval" => "1m",
        "from" => "2026-01-01T00:00:00Z",
        "to" => "2026-01-02T00:00:00Z",
        "limit" | "depth" => "5",
        "state" => "all",
        "rule" => "x",
        "severity" => "P1",
        "channel" => "trades",
        "pool" => "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640",
        "layer" => "mixed",
        "cursor" => "5b302c22225d", // [0,""]
        _ => "x",
    };
    let mut checked = 0;
    for (path, ops) in paths {
        let Some(op) = ops.get("get") else { continue };
        let params = op["parameters"].as_array().unwrap();
        let mut required: Vec<String> = params
            .iter()
            .filter(|p| p["required"] == true)
            .map(|p| format!("{}={}", p["name"].as_str().unwrap(), value(p["name"].as_str().unwrap())))
            .collect();
        let takes_from = params.iter().any(|p| p["name"] == "from");
        let (s, body) = get(&base, &format!("{path}?{}", required.join("&")), None).await;
        assert_ne!(body["error"]["code"], "unknown_route", "{path}: {body}");
        assert!(s == StatusCode::OK || path == "/api/v1/book", "{path}: {s} {body}");
        if path == "/api/v1/alerts" {
            required.push("state=all".into());
        }
        for p in params.iter().filter(|p| p["required"] != true) {
            let name = p["name"].as_str().unwrap();
            if name == "state" || name == "cursor" {
                // state: set above; cursor: a page's own (covered by the paging test).
                continue;
            }
            let mut q = required.clone();
            q.push(format!("{name}={}", value(name)));
            // History (the hot answers refuse `to`): both ends, one day apart.
            for end in ["from", "to"] {
                if takes_from && name != end {
                    q.push(format!("{end}={}", value(end)));
                }
            }
            let (s, body) = get(&base, &format!("{path}?{}", q.join("&")), None).await;
            assert!(
                !body["error"]["message"].as_str().unwrap_or_default().contains("unknown parameter"),
                "{path} refuses its documented {name}: {body}"
            );
            assert!(s != StatusCode::BAD_REQUEST, "{path}?{}: {body}", q.join("&"));
            checked += 1;
        }
    }
    assert!(checked > 35, "{checked} parameters checked");
    // The dashboard's page is served.
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<html"));
}
