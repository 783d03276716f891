//! What the API tests share: the API process, HTTP helpers, the seeded history.

use reqwest::StatusCode;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_testkit::{free_port, repo_root, stack, ChildGuard};

pub const MIN_US: i64 = 60_000_000;
pub const TOPICS: [&str; 7] = ["trades", "reference", "book.1s", "signals", "price.smooth", "alerts", "depth"];

/// One test at a time: the broker and the ClickHouse engine share two cores with the stages.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Create the topics and wait until the broker lists each (Tansu has acknowledged creations
/// it then did not show; those are created again).
pub async fn create_visible(specs: &[TopicSpec]) {
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

pub fn spawn(prefix: &str, name: &str, args: &[&str]) -> ChildGuard {
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
pub async fn api(prefix: &str, name: &str, yaml: &str) -> (ChildGuard, String) {
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

pub async fn get(base: &str, path: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(k) = key {
        req = req.header("X-API-Key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn ok(base: &str, path: &str) -> Value {
    let (status, body) = get(base, path, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// Ask until `done` holds for the answer (the followed topics arrive independently).
pub async fn eventually(base: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
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

pub async fn clickhouse(sql: &str) {
    let ch = tickwatch_runtime::clickhouse::ClickHouse::new(&stack().settings.clickhouse);
    ch.execute(sql).await.unwrap();
}

/// Insert k-line rows written as `(venue, instrument, interval, open_time, close_time, open,
/// high, low, close, volume, quote_volume, vwap, trade_count, taker_buy_volume,
/// taker_buy_quote_volume, first_trade_id, last_trade_id, version, verification, emitted_at)`.
pub async fn insert_klines(rows: &[String]) {
    clickhouse(&format!(
        "INSERT INTO klines (venue, instrument, interval, open_time, close_time, open, high, low, close, volume, \
         quote_volume, vwap, trade_count, taker_buy_volume, taker_buy_quote_volume, first_trade_id, last_trade_id, \
         version, verification, emitted_at) VALUES {}",
        rows.join(",")
    ))
    .await;
}

pub fn ts(us: i64) -> String {
    format!("fromUnixTimestamp64Micro(toInt64({us}))")
}

/// A minute 2 to 6 days back, picked from the test day (inside the 7-day TTL of book windows).
pub fn recent_us(day: i64) -> i64 {
    let now_min = tickwatch_runtime::produce::now_us() / MIN_US;
    (now_min - 2 * 1440 - (day / MIN_US) % (4 * 1440)) * MIN_US
}

/// One UTC day no other test writes: picked from the prefix.
pub fn test_day_us(prefix: &str) -> i64 {
    let h = prefix.bytes().fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
    (1_735_689_600 + (h % 300) as i64 * 86_400) * 1_000_000 // 2025-01-01 + 0..300 days
}

pub async fn seed_history(day: i64) {
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

pub fn config(prefix: &str, extra: &str) -> String {
    format!(
        "dashboard_dir: {}\ncache: {{history_ttl: 60s}}\nhot: {{redis_prefix: \"{prefix}:hot:\"}}\n\
         alerts_state_prefix: \"{prefix}:alerts:\"\nrate_limit: {{per_second: 1000, burst: 1000}}\n{extra}",
        repo_root().join("api/dashboard").display()
    )
}
