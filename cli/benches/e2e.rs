//! End to end through the local stack: the fake Binance plays a synthetic market of trades
//! at a fixed rate (messages a second, over as many instruments as it takes), and the
//! ingestor, the `tw-trades.wasm` transform in the transform host and the ClickHouse writer
//! carry it to the `trades` table. For each rate: the rate reached, the latency from frame
//! receipt (`receive_time`) to the row in ClickHouse (`inserted_at`) at P50/P95/P99 over
//! every row, and each stage's CPU (share of one core over the run) and peak memory. A rate
//! the pipeline cannot carry shows as a rate reached below the rate asked and a growing
//! latency: where the limit is.
//! `make transforms && cargo bench -p tickwatch --bench e2e` (brings the local stack up);
//! `TW_E2E_RATES=1000,50000,600000` and `TW_E2E_SECONDS=20` (the last rate is a burst of a
//! quarter of the time) choose the runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::Settings;
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{repo_root, stack, unique, ChildGuard};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");
/// Trades a second of one synthetic instrument at most (its market steps a millisecond at a
/// time); a rate takes as many instruments as it needs at 800 a second each.
const PER_INSTRUMENT: f64 = 800.0;
const TOPICS: [&str; 7] =
    ["raw.trades", "raw.depth", "raw.reference", "dq.minute", "signals", "trades", "raw.trades.quarantine"];

fn main() {
    let rates: Vec<u64> = std::env::var("TW_E2E_RATES")
        .unwrap_or_else(|_| "1000,50000,600000".into())
        .split(',')
        .map(|r| r.trim().parse().expect("TW_E2E_RATES: messages a second, comma-separated"))
        .collect();
    let seconds: u64 = std::env::var("TW_E2E_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let wasm = repo_root().join("target/wasm32-wasip1/wasm/tw-trades.wasm");
    assert!(wasm.exists(), "{} is missing: run `make transforms` first", wasm.display());
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    println!("End to end on this machine: fake Binance → ingest → tw-trades.wasm → ClickHouse writer");
    println!("| rate asked | seconds | rows | rate reached | P50 ms | P95 ms | P99 ms | ingest CPU / peak MB | transform | writer |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (i, rate) in rates.iter().enumerate() {
        let secs = if i + 1 == rates.len() && rates.len() > 2 { (seconds / 4).max(2) } else { seconds };
        let r = rt.block_on(run(*rate, secs, &wasm));
        println!(
            "| {rate} | {secs} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {} |",
            r.rows, r.reached, r.p50, r.p95, r.p99, r.stages[0], r.stages[1], r.stages[2]
        );
    }
}

struct Outcome {
    rows: u64,
    reached: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    stages: Vec<String>,
}

async fn run(rate: u64, seconds: u64, wasm: &Path) -> Outcome {
    let s = stack();
    let prefix = unique("e2e");
    let database = prefix.replace('-', "_");
    let settings = settings_with_clickhouse(s, &s.settings.clickhouse.url, &database);
    let ok = Command::new(BIN).arg("--config").arg(&settings).arg("migrate").status().expect("migrate runs");
    assert!(ok.success(), "migrate");
    let specs: Vec<TopicSpec> = TOPICS
        .iter()
        .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    broker::create_topics(&s.broker(), &specs).await.expect("topics");
    let p = format!("{prefix}.");
    let n = ((rate as f64 / PER_INSTRUMENT).ceil() as usize).max(4);
    let per_instrument = rate as f64 / n as f64;
    // The instruments SYN0USDT.. as the ingestor (its symbols file) and the transform
    // (TW_SYMBOLS) know them.
    let aliases: Vec<String> = (0..n)
        .map(|i| format!("{{venue: binance, symbol: SYN{i}USDT, instrument: SYN{i}-USDT, price_precision: 2, size_precision: 3}}"))
        .collect();
    let symbols_yaml = format!("aliases: [{}]", aliases.join(", "));
    let symbols = std::env::temp_dir().join(format!("{prefix}-symbols.yaml"));
    std::fs::write(&symbols, &symbols_yaml).expect("symbols file");
    let text = std::fs::read_to_string(&settings).expect("settings");
    let text = text.replace(&s.settings.files.symbols.display().to_string(), &symbols.display().to_string());
    std::fs::write(&settings, text).expect("settings");

    let (fake, ws, rest) = fake_venue(&[
        "--synthetic-seed",
        "7",
        "--synthetic-instruments",
        &n.to_string(),
        "--synthetic-from-now",
        "--synthetic-seconds",
        &seconds.to_string(),
        "--synthetic-trades",
        &per_instrument.to_string(),
        "--synthetic-depth",
        "0",
    ]);
    let exchanges = std::env::temp_dir().join(format!("{prefix}-exchanges.yaml"));
    let instruments: Vec<String> = (0..n).map(|i| format!("SYN{i}-USDT")).collect();
    let instruments = instruments.join(", ");
    std::fs::write(
        &exchanges,
        format!(
            "venues:\n  binance:\n    ws_url: {ws}\n    rest_url: {rest}\n    channels: [trades]\n    \
             instruments: [{instruments}]\n    snapshot_depth: 100\n    snapshot_check_period: 5m\n    max_streams_per_connection: 200\n    subscribe_per_second: 10\n    \
             reconnect: {{initial_backoff: 50ms, max_backoff: 500ms, jitter: 0.2}}\n    rotate_after: 23h\n    \
             stall_after: 10m\n"
        ),
    )
    .expect("exchanges file");
    let sinks = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
    std::fs::write(&sinks, "clickhouse: {topics: [trades]}\n").expect("sinks file");
    let m = "--metrics-listen=127.0.0.1:0";
    let writer = spawn(
        &settings,
        &prefix,
        "writer",
        &words(&format!("sink clickhouse --sinks {} --topic-prefix {p} --group {p}w {m}", sinks.display())),
    );
    let mut host_args = words(&format!(
        "transform run --wasm {} --input {p}raw.trades --output {p}trades --output {p}raw.trades.quarantine --group {p}t {m}",
        wasm.display()
    ));
    host_args.extend(["--env".to_string(), format!("TW_SYMBOLS={symbols_yaml}")]);
    let host = spawn(&settings, &prefix, "transform", &host_args);
    // Let the consumers join before the market opens with the first subscription.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let started = Instant::now();
    let ingest = spawn(
        &settings,
        &prefix,
        "ingest",
        &words(&format!("ingest --venue binance --exchanges {} --topic-prefix {p} {m}", exchanges.display())),
    );
    let procs = [&ingest, &host, &writer];
    let cpu_before: Vec<f64> = procs.iter().map(|c| cpu_seconds(c.0.id())).collect();

    // Until the table holds every trade of the market, or stops growing for 30 s.
    let ch = ClickHouse::new(&Settings::load(&settings).expect("settings").clickhouse);
    let count = || async { scalar(&ch, "SELECT count() AS v FROM trades").await as u64 };
    let (mut last, mut moved) = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let n = count().await;
        if n != last {
            (last, moved) = (n, Instant::now());
        }
        let played = started.elapsed() > Duration::from_secs(seconds + 3);
        if played && moved.elapsed() > Duration::from_secs(if n == 0 { 60 } else { 30 }) {
            break;
        }
        if played && n > 0 && moved.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    assert!(last > 0, "no trade reached ClickHouse; the stages' logs are in target/bench-logs/{prefix}-*.log");
    let wall = started.elapsed().as_secs_f64();
    let stages: Vec<String> = procs
        .iter()
        .zip(&cpu_before)
        .map(|(c, before)| {
            format!("{:.0} % / {:.0}", 100.0 * (cpu_seconds(c.0.id()) - before) / wall, peak_mb(c.0.id()))
        })
        .collect();
    let q = |level: f64| {
        format!(
            "SELECT quantileExact({level})(dateDiff('microsecond', receive_time, inserted_at)) / 1000 AS v FROM trades"
        )
    };
    let reached = scalar(
        &ch,
        "SELECT count() / greatest(dateDiff('microsecond', min(receive_time), max(receive_time)) / 1e6, 1e-3) AS v FROM trades",
    )
    .await;
    let outcome = Outcome {
        rows: last,
        reached,
        p50: scalar(&ch, &q(0.5)).await,
        p95: scalar(&ch, &q(0.95)).await,
        p99: scalar(&ch, &q(0.99)).await,
        stages,
    };
    drop((ingest, host, writer, fake));
    let _ = ch.execute(&format!("DROP DATABASE IF EXISTS `{database}`")).await;
    outcome
}

async fn scalar(ch: &ClickHouse, sql: &str) -> f64 {
    let rows = ch.query_rows(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let v = &rows[0]["v"];
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(f64::NAN)
}

fn fake_venue(synthetic: &[&str]) -> (ChildGuard, String, String) {
    use std::io::{BufRead, BufReader};
    let mut child: Child = Command::new(BIN)
        .args(["fake-venue", "--venue", "binance"])
        .args(synthetic)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the fake venue starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("its first line");
    let field = |name: &str| line.split_whitespace().find_map(|w| w.strip_prefix(name)).expect("its URLs").to_string();
    let (ws, rest) = (field("ws_url="), field("rest_url="));
    (ChildGuard(child), ws, rest)
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn spawn(settings: &Path, prefix: &str, name: &str, args: &[String]) -> ChildGuard {
    let dir: PathBuf = repo_root().join("target/bench-logs");
    std::fs::create_dir_all(&dir).expect("log folder");
    let log = std::fs::File::create(dir.join(format!("{prefix}-{name}.log"))).expect("log file");
    let child = Command::new(BIN)
        .arg("--config")
        .arg(settings)
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    ChildGuard(child)
}

/// User and system CPU seconds of a process so far (from /proc).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    let ticks = clock_ticks();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / ticks
}

/// The kernel's clock ticks a second (`getconf CLK_TCK`; 100 on Linux everywhere in practice).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A process's peak resident memory so far, MB (VmHWM).
fn peak_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
