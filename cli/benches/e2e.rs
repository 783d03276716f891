//! End to end through the local stack: the fake Binance plays a synthetic market of trades
//! at a fixed rate (messages a second, over as many instruments as it takes), and the
//! ingestor, the `tw-trades.wasm` transform in the transform host and the ClickHouse writer
//! carry it to the `trades` table. For each rate: the rate reached, the latency from frame
//! receipt (`receive_time`) to the row in ClickHouse (`inserted_at`) at P50/P95/P99 over
//! every row and P95 without the first seconds (`WARM_UP_S`; a dash for a run no longer), and each stage's CPU (share of one core over the run) and peak memory. A rate
//! the pipeline cannot carry shows as a rate reached below the rate asked and a growing
//! latency: where the limit is.
//! `make transforms && cargo bench -p tickwatch --bench e2e` (brings the local stack up);
//! `TW_E2E_RATES=1000,50000,600000` and `TW_E2E_SECONDS=20` (the last of three or more rates
//! is a burst of a quarter of the time) choose the runs; `TW_E2E_BATCH_MS` sets the writer's
//! `batch_ms` (default: the shipped 1000) and `TW_E2E_FETCH_WAIT_MS` the consumers'
//! `broker.fetch_wait_ms` (default: the stack's, 500), `TW_E2E_COMPRESSION` the producers'
//! `broker.compression` (default: the stack's, zstd); `TW_E2E_OWN_BROKER=1` puts the run's
//! topics on a Tansu started for the run instead of the stack's (`Plan::own_broker`). Beside
//! the stages, the CPU of the fake venue, the broker and ClickHouse (they share the cores),
//! and after the table each run's P50 second by second: a latency that climbs is a queue
//! growing.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::hops::Hop;
use support::{cpu_seconds, memory_mb, Pipeline, Plan};
use tickwatch_testkit::repo_root;

fn main() {
    let rates: Vec<u64> = std::env::var("TW_E2E_RATES")
        .unwrap_or_else(|_| "1000,50000,600000".into())
        .split(',')
        .map(|r| r.trim().parse().expect("TW_E2E_RATES: messages a second, comma-separated"))
        .collect();
    let seconds: u64 = std::env::var("TW_E2E_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let batch_ms: Option<u64> = std::env::var("TW_E2E_BATCH_MS").ok().and_then(|s| s.parse().ok());
    let fetch_wait_ms: Option<u64> = std::env::var("TW_E2E_FETCH_WAIT_MS").ok().and_then(|s| s.parse().ok());
    let own_broker = std::env::var("TW_E2E_OWN_BROKER").is_ok_and(|v| v == "1");
    let compression = std::env::var("TW_E2E_COMPRESSION").ok();
    let wasm = repo_root().join("target/wasm32-wasip1/wasm/tw-trades.wasm");
    assert!(wasm.exists(), "{} is missing: run `make transforms` first", wasm.display());
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    println!(
        "End to end on this machine: fake Binance → ingest → tw-trades.wasm → ClickHouse writer (batch_ms {}, fetch_wait_ms {}, compression {}, {})",
        batch_ms.map_or("1000, the default".to_string(), |ms| ms.to_string()),
        fetch_wait_ms.map_or("of the stack".to_string(), |ms| ms.to_string()),
        compression.as_deref().unwrap_or("of the stack"),
        if own_broker { "a Tansu of each run's own" } else { "the stack's Tansu" }
    );
    println!("| rate asked | seconds | rows | rate reached | P50 ms | P95 ms | P99 ms | P95 ms after the first {WARM_UP_S} s | ingest CPU / peak MB | transform | writer | CPU of fake venue, broker, ClickHouse |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut over_time = Vec::new();
    let mut hops = Vec::new();
    for (i, rate) in rates.iter().enumerate() {
        let secs = if i + 1 == rates.len() && rates.len() > 2 { (seconds / 4).max(2) } else { seconds };
        let plan = Plan {
            rate: *rate,
            seconds: secs,
            fake_args: &[],
            sink_topics: &["trades"],
            batch_ms,
            fetch_wait_ms,
            compression: compression.as_deref(),
            own_broker,
        };
        let r = support::run_unless_stopped(&rt, run(&plan, &wasm));
        println!(
            "| {rate} | {secs} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} |",
            r.rows,
            r.reached,
            r.p50,
            r.p95,
            r.p99,
            r.p95_steady.map_or_else(|| "–".to_string(), |p| format!("{p:.0}")),
            r.stages[0],
            r.stages[1],
            r.stages[2],
            r.neighbours.join(", ")
        );
        over_time.push((*rate, r.p50_by_second));
        hops.push((*rate, r.hops, (r.p50, r.p95)));
    }
    // The same delay measured at each stage's hand-over: the step that grows most is where
    // the time goes.
    println!("\nWhere the time goes: P50 / P95 ms from receipt to the trade handed to the broker by the ingestor (raw.trades), by the transform host (trades), and to its row (inserted_at):");
    println!("| rate asked | to raw.trades | to trades | to the row |");
    println!("|---|---|---|---|");
    for (rate, [raw, normalized], (p50, p95)) in hops {
        println!(
            "| {rate} | {:.0} / {:.0} | {:.0} / {:.0} | {p50:.0} / {p95:.0} |",
            raw.p50, raw.p95, normalized.p50, normalized.p95
        );
    }
    // A latency that climbs through the run is a queue growing: the rate is past what the
    // pipeline carries. A flat one is the pipeline's own delay.
    println!("\nP50 latency (ms) of the trades received in each second of the run:");
    for (rate, by_second) in over_time {
        let text: Vec<String> = by_second.iter().map(|ms| format!("{ms:.0}")).collect();
        println!("  {rate} msgs/s: {}", text.join(" "));
    }
}

/// Seconds at the start of a run left out of the steady-state P95 (beside the whole run's):
/// the stages' first connections and batches, on cores that are all busy, put the P50 of
/// the first two or three seconds at several times the rest's.
const WARM_UP_S: u64 = 5;

struct Outcome {
    rows: u64,
    reached: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    /// `None` when the run is no longer than the warm-up.
    p95_steady: Option<f64>,
    stages: Vec<String>,
    neighbours: Vec<String>,
    p50_by_second: Vec<f64>,
    /// Receipt to `raw.trades` and to `trades`.
    hops: [Hop; 2],
}

async fn run(plan: &Plan<'_>, wasm: &Path) -> Outcome {
    let pipe = Pipeline::start("e2e", plan, wasm).await;
    let started = Instant::now();
    let cpu_before: Vec<f64> = pipe.stages().iter().map(|(_, c)| cpu_seconds(c.0.id())).collect();
    let neighbours_before: Vec<f64> = pipe.neighbours().iter().map(|(_, pid)| cpu_seconds(*pid)).collect();
    // Until the table holds every trade of the market: it stops growing once played.
    tokio::time::sleep(Duration::from_secs(plan.seconds + 3)).await;
    let rows = pipe.settle("SELECT count() AS v FROM trades", Duration::from_secs(5)).await;
    assert!(rows > 0, "no trade reached ClickHouse; the stages' logs are in target/bench-logs/{}-*.log", pipe.prefix);
    let wall = started.elapsed().as_secs_f64();
    let stages: Vec<String> = pipe
        .stages()
        .iter()
        .zip(&cpu_before)
        .map(|((_, c), before)| {
            let pid = c.0.id();
            format!("{:.0} % / {:.0}", 100.0 * (cpu_seconds(pid) - before) / wall, memory_mb(pid, "VmHWM"))
        })
        .collect();
    let neighbours: Vec<String> = pipe
        .neighbours()
        .iter()
        .zip(&neighbours_before)
        .map(|((name, pid), before)| format!("{name} {:.0} %", 100.0 * (cpu_seconds(*pid) - before) / wall))
        .collect();
    let q = |level: f64| {
        format!(
            "SELECT quantileExact({level})(dateDiff('microsecond', receive_time, inserted_at)) / 1000 AS v FROM trades"
        )
    };
    let reached = pipe
        .scalar("SELECT count() / greatest(dateDiff('microsecond', min(receive_time), max(receive_time)) / 1e6, 1e-3) AS v FROM trades")
        .await;
    let outcome = Outcome {
        rows,
        reached,
        p50: pipe.scalar(&q(0.5)).await,
        p95: pipe.scalar(&q(0.95)).await,
        p99: pipe.scalar(&q(0.99)).await,
        p95_steady: if plan.seconds > WARM_UP_S {
            Some(
                pipe.scalar(&format!(
                    "SELECT quantileExact(0.95)(dateDiff('microsecond', receive_time, inserted_at)) / 1000 AS v FROM trades \
                     WHERE receive_time >= (SELECT min(receive_time) FROM trades) + INTERVAL {WARM_UP_S} SECOND"
                ))
                .await,
            )
        } else {
            None
        },
        stages,
        neighbours,
        p50_by_second: pipe
            .column(
                "SELECT quantileExact(0.5)(dateDiff('microsecond', receive_time, inserted_at)) / 1000 AS v FROM trades \
                 GROUP BY toStartOfSecond(receive_time) AS s ORDER BY s",
            )
            .await,
        hops: support::hops::to_topics(&pipe.broker_settings(), &pipe.prefix),
    };
    pipe.finish().await;
    outcome
}
