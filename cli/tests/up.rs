//! `tickwatch up --offline`: every stage in one command against the local stack, the fake
//! Binance and OKX serving a seeded market from now. Within a minute of the start the API
//! serves k-lines of both venues built from that market; SIGTERM stops every stage.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_testkit::{free_port, repo_root, stack, unique, ChildGuard};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_offline_serves_klines_within_a_minute_and_stops_on_sigterm() {
    let s = stack();
    let wasm_dir = repo_root().join("target/wasm32-wasip1/wasm");
    assert!(wasm_dir.join("tw-trades.wasm").exists(), "run `make transforms` first");
    let log_dir = repo_root().join("target/test-logs").join(unique("up"));
    let api = format!("127.0.0.1:{}", free_port());
    // Metrics ports from a free range well away from the stack's and the default 9470.
    let metrics_base = 20_000 + (std::process::id() % 20_000) as u16;
    let started = Instant::now();
    let from_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickwatch"));
    cmd.arg("--config").arg(&s.settings_path).args(["up", "--offline", "--api-listen", &api]);
    cmd.args(["--metrics-base-port", &metrics_base.to_string(), "--log-dir"]).arg(&log_dir);
    cmd.arg("--wasm-dir").arg(&wasm_dir).current_dir(repo_root());
    for k in ["TICKWATCH_S3_ACCESS_KEY", "TICKWATCH_S3_SECRET_KEY"] {
        cmd.env(k, s.var(k).unwrap());
    }
    let mut up = ChildGuard(cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap());
    let mut line = String::new();
    BufReader::new(up.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), format!("dashboard: http://{api}/"), "logs in {}", log_dir.display());

    // k-lines of both venues from the API, each bar exact and from this run's market.
    let client = reqwest::Client::new();
    let mut first_seen = Vec::new();
    for venue in ["binance", "okx"] {
        let url = format!("http://{api}/api/v1/klines?venue={venue}&instrument=BTC-USDT&interval=1s&from={from_ms}");
        let bars = loop {
            let answer: Option<Value> = match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => r.json().await.ok(),
                _ => None,
            };
            let items = answer.and_then(|a| a["items"].as_array().cloned()).unwrap_or_default();
            if !items.is_empty() {
                break items;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no {venue} k-line within a minute of `tickwatch up --offline`; logs in {}",
                log_dir.display()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        first_seen.push((venue, started.elapsed()));
        let bar = &bars[0];
        assert!(bar["open_time_ms"].as_i64().unwrap() >= from_ms - 1_000, "{bar}");
        for field in ["open", "high", "low", "close"] {
            let price: f64 = bar[field].as_str().unwrap().parse().unwrap();
            // The seeded market's mid starts at 100.00 and moves a cent at a time.
            assert!((50.0..150.0).contains(&price), "{field} {price} in {bar}");
        }
    }
    eprintln!("first k-lines served after {first_seen:?}");

    // SIGTERM stops every stage: the API goes away and `up` exits cleanly.
    let pid = up.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = up.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "tickwatch up did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "{status}");
    assert!(client.get(format!("http://{api}/readyz")).send().await.is_err(), "the API stopped with it");
    let logs: Vec<String> =
        std::fs::read_dir(&log_dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(logs.len(), 16, "a log per stage and fake venue, and the exchanges file: {logs:?}");
}
