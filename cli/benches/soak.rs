//! The soak: the whole pipeline for an hour at 5 000 trades a second, the fake Binance
//! closing the connection every two minutes and the ClickHouse writer killed (SIGKILL) and
//! started again every ten minutes. It prints each stage's resident memory over the run, all
//! of it and its anonymous part (without the executable's pages, mapped in as its code first
//! runs), and their growth (the median of the second ten minutes against the last ten: the
//! first are warm-up); where the ingestor's and the host's memory went between those points,
//! mapping by mapping (`/proc/PID/smaps`: the brk heap, anonymous regions such as glibc's
//! arenas, thread stacks or a wasm module's memory, the executable's pages); every sample
//! into `target/bench-logs/<run>-memory.csv`; and then checks the table against the market, which it makes again
//! from the same seed: every trade of the market is in `trades` or inside a gap the
//! ingestor counted in `data_quality_minute` (nothing lost silently), each run of missing
//! trade ids is one counted gap, and no trade is there twice after FINAL. A broken check
//! fails the run; the memory figures are reported, not judged (they vary with the machine).
//! `make transforms && cargo bench -p tickwatch --bench soak` (brings the local stack up).
//! `TW_SOAK_SECONDS` (3600), `TW_SOAK_RATE` (5000), `TW_SOAK_RESTART_EVERY` (600 s) and
//! `TW_SOAK_DISCONNECT_EVERY` (120 s of trades per connection) shape a shorter run.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::memory::print_grown;
use support::{cpu_seconds, memory_mb, Pipeline, Plan};
use tickwatch_fakes::synthetic::{Event, MarketWalk, Synthetic};
use tickwatch_testkit::process::mappings;
use tickwatch_testkit::repo_root;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}: a whole number")))
}

/// Resident memory of the three stages, sampled every 10 s: all of it, and the anonymous
/// part (the heap and stacks, without the pages of the executable mapped in as its code runs).
struct Sample {
    at_s: f64,
    mb: [f64; 3],
    anon: [f64; 3],
}

fn main() {
    let seconds = env("TW_SOAK_SECONDS", 3600);
    let rate = env("TW_SOAK_RATE", 5000);
    let restart_every = env("TW_SOAK_RESTART_EVERY", 600);
    let disconnect_every = env("TW_SOAK_DISCONNECT_EVERY", 120);
    assert!(
        seconds >= 3 * restart_every,
        "TW_SOAK_SECONDS must be at least three restart periods (warm-up, early, late)"
    );
    let wasm = repo_root().join("target/wasm32-wasip1/wasm/tw-trades.wasm");
    assert!(wasm.exists(), "{} is missing: run `make transforms` first", wasm.display());
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    support::run_unless_stopped(&rt, soak(seconds, rate, restart_every, disconnect_every, &wasm));
}

async fn soak(seconds: u64, rate: u64, restart_every: u64, disconnect_every: u64, wasm: &std::path::Path) {
    let disconnect_after = (rate * disconnect_every).to_string();
    let fake_args = ["--synthetic-stream", "--disconnect-after", &disconnect_after];
    let plan = Plan {
        rate,
        seconds,
        fake_args: &fake_args,
        sink_topics: &["trades", "dq.minute"],
        batch_ms: None,
        fetch_wait_ms: None,
        compression: None,
        own_broker: false,
    };
    let mut pipe = Pipeline::start("soak", &plan, wasm).await;
    println!(
        "Soak: {seconds} s at {rate} trades/s over {} instruments, a disconnect every {disconnect_every} s, the writer killed every {restart_every} s (logs: target/bench-logs/{}-*.log)",
        pipe.instruments, pipe.prefix
    );
    let started = Instant::now();
    let cpu_before: Vec<f64> = pipe.stages().iter().map(|(_, c)| cpu_seconds(c.0.id())).collect();
    let mut writer_cpu = 0.0;
    let (mut samples, mut restarts) = (Vec::new(), 0);
    // The ingestor's and the host's mappings at the end of the early window, to show where
    // their memory went by the end.
    let mut early_maps = None;
    // CPU seconds of the ingestor and the transform host at the last progress line.
    let (mut cpu_then, mut then) = ([cpu_before[0], cpu_before[1]], 0.0);
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let at_s = started.elapsed().as_secs_f64();
        let stages = pipe.stages();
        samples.push(Sample {
            at_s,
            mb: stages.map(|(_, c)| memory_mb(c.0.id(), "VmRSS")),
            anon: stages.map(|(_, c)| memory_mb(c.0.id(), "RssAnon")),
        });
        if early_maps.is_none() && at_s >= 2.0 * restart_every as f64 {
            early_maps = Some([mappings(pipe.ingest.0.id()), mappings(pipe.host.0.id())]);
        }
        if (at_s as u64) / 60 != ((at_s - 10.0) as u64) / 60 {
            let rows = pipe.scalar("SELECT count() AS v FROM trades").await;
            let mb = samples.last().expect("sampled").mb;
            let cpu_now = [cpu_seconds(pipe.ingest.0.id()), cpu_seconds(pipe.host.0.id())];
            let share = |i: usize| 100.0 * (cpu_now[i] - cpu_then[i]) / (at_s - then);
            println!(
                "{:>5.0} s: {rows} rows; RSS MB ingest {:.0}, transform {:.0}, writer {:.0}; CPU since the line before: ingest {:.0} %, transform {:.0} %",
                at_s, mb[0], mb[1], mb[2], share(0), share(1)
            );
            (cpu_then, then) = (cpu_now, at_s);
        }
        if at_s as u64 >= (restarts + 1) * restart_every && at_s + 10.0 < seconds as f64 {
            restarts += 1;
            writer_cpu += cpu_seconds(pipe.writer.0.id()) - if restarts == 1 { cpu_before[2] } else { 0.0 };
            pipe.crash_writer(restarts as usize);
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let late_maps = [mappings(pipe.ingest.0.id()), mappings(pipe.host.0.id())];
    writer_cpu += cpu_seconds(pipe.writer.0.id()) - if restarts == 0 { cpu_before[2] } else { 0.0 };
    let cpu =
        [cpu_seconds(pipe.ingest.0.id()) - cpu_before[0], cpu_seconds(pipe.host.0.id()) - cpu_before[1], writer_cpu];
    // The market opened a little after the clock started: wait for its end (the table
    // stops growing). Then the ingestor publishes the open minute's data quality as it stops.
    let rows = pipe.settle("SELECT count() AS v FROM trades", Duration::from_secs(15)).await;
    pipe.ingest.terminate();
    pipe.settle("SELECT count() AS v FROM data_quality_minute", Duration::from_secs(10)).await;

    println!(
        "\n| stage | RSS MB, minutes {}–{} (median) | last {} min (median) | growth | of which anonymous: minutes {}–{} | last {} min | growth | CPU (share of a core) |",
        restart_every / 60,
        2 * restart_every / 60,
        restart_every / 60,
        restart_every / 60,
        2 * restart_every / 60,
        restart_every / 60
    );
    println!("|---|---|---|---|---|---|---|---|");
    let names = ["ingest", "transform", "writer (restarted)"];
    for (i, name) in names.iter().enumerate() {
        let (early, late) = (restart_every as f64, (seconds - restart_every) as f64);
        let parts: [&dyn Fn(&Sample) -> f64; 2] = [&|s| s.mb[i], &|s| s.anon[i]];
        let [rss, anon] = parts.map(|part| {
            let (a, b) = (median(&samples, part, early, 2.0 * early), median(&samples, part, late, seconds as f64));
            format!("{a:.1} | {b:.1} | {:+.1} %", 100.0 * (b - a) / a)
        });
        println!("| {name} | {rss} | {anon} | {:.0} % |", 100.0 * cpu[i] / wall);
    }
    println!("\nMappings at {} s against the end (`/proc/PID/smaps`):", 2 * restart_every);
    for (i, name) in ["ingest", "transform"].iter().enumerate() {
        if let Some(early) = &early_maps {
            print_grown(name, &early[i], &late_maps[i]);
        }
    }
    write_samples(&pipe.prefix, &samples);
    check(&pipe, rows, (seconds, disconnect_every), restarts).await;
    pipe.finish().await;
}

/// Every sample, for a closer look than the medians: `target/bench-logs/<run>-memory.csv`.
fn write_samples(prefix: &str, samples: &[Sample]) {
    let mut csv =
        String::from("seconds,ingest_mb,transform_mb,writer_mb,ingest_anon_mb,transform_anon_mb,writer_anon_mb\n");
    for s in samples {
        let [a, b, c] = s.mb;
        let [d, e, f] = s.anon;
        csv.push_str(&format!("{:.0},{a:.2},{b:.2},{c:.2},{d:.2},{e:.2},{f:.2}\n", s.at_s));
    }
    let path = repo_root().join(format!("target/bench-logs/{prefix}-memory.csv"));
    match std::fs::write(&path, csv) {
        Ok(()) => println!("Every memory sample: {}", path.display()),
        Err(e) => println!("could not write {}: {e}", path.display()),
    }
}

fn median(samples: &[Sample], part: impl Fn(&Sample) -> f64, from_s: f64, to_s: f64) -> f64 {
    let mut v: Vec<f64> =
        samples.iter().filter(|s| s.at_s >= from_s && s.at_s < to_s).map(part).filter(|m| m.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The table against the market, made again from the same seed.
async fn check(pipe: &Pipeline, rows: u64, (seconds, disconnect_every): (u64, u64), restarts: u64) {
    let market = Synthetic {
        seed: 7,
        instruments: pipe.instruments,
        seconds,
        trades_per_second: pipe.per_instrument,
        depth_per_second: 0.0,
    };
    let mut last_id: HashMap<usize, i64> = HashMap::new();
    for e in MarketWalk::new(&market, 0, false) {
        if let Event::Trade { inst, id, .. } = e {
            last_id.insert(inst, id);
        }
    }
    let traded: i64 = last_id.values().sum();
    let ids = "SELECT DISTINCT instrument, toInt64(trade_id) AS id FROM trades";
    let distinct = pipe.scalar(&format!("SELECT count() AS v FROM ({ids})")).await as i64;
    let after_final = pipe.scalar("SELECT count() AS v FROM trades FINAL").await as i64;
    // Runs of missing ids between the first and the last trade of each instrument.
    let runs = pipe
        .scalar(&format!(
            "SELECT countIf(id - prev > 1) AS v FROM (SELECT id, lagInFrame(id, 1, id - 1) OVER \
         (PARTITION BY instrument ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev FROM ({ids}))"
        ))
        .await as i64;
    let mut ends = Vec::new();
    for i in 0..pipe.instruments {
        let of = format!("FROM ({ids}) WHERE instrument = 'SYN{i}-USDT'");
        let lo = pipe.scalar(&format!("SELECT min(id) AS v {of}")).await as i64;
        let hi = pipe.scalar(&format!("SELECT max(id) AS v {of}")).await as i64;
        ends.push((lo, hi));
    }
    let first_missed: i64 = ends.iter().map(|(lo, _)| lo - 1).sum();
    let last_missed: i64 = ends.iter().enumerate().map(|(i, (_, hi))| last_id.get(&i).copied().unwrap_or(0) - hi).sum();
    let dq = "FROM data_quality_minute FINAL WHERE channel = 'trades'";
    let gaps = pipe.scalar(&format!("SELECT sum(gaps) AS v {dq}")).await as i64;
    let counted = pipe.scalar(&format!("SELECT sum(ifNull(lost_messages, 0)) AS v {dq}")).await as i64;
    let reconnects = pipe
        .scalar(&format!("SELECT max(r) AS v FROM (SELECT instrument, sum(reconnects) AS r {dq} GROUP BY instrument)"))
        .await as i64;
    let missing = traded - distinct;
    let silent = missing - counted;
    println!("\n| market trades | rows written (with re-deliveries) | after FINAL | distinct | missing | in counted gaps | lost silently | runs of missing ids | gaps counted | reconnects | writer restarts |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!("| {traded} | {rows} | {after_final} | {distinct} | {missing} | {counted} | {silent} | {runs} | {gaps} | {reconnects} | {restarts} |");
    println!("(missing before the first trade received: {first_missed}; after the last: {last_missed})");
    assert_eq!(after_final, distinct, "a trade is in the table twice after FINAL");
    assert_eq!(silent, 0, "trades missing from the table without a counted gap");
    assert_eq!((first_missed, last_missed), (0, 0), "trades missing at the ends of the market");
    assert_eq!(runs, gaps, "each run of missing trade ids is one counted gap");
    // The fake counts data frames per connection, so the first close comes after that many.
    assert!(reconnects >= 1 || seconds <= disconnect_every, "no disconnect happened");
    println!("Checks passed: nothing lost silently, nothing twice after FINAL, every gap counted.");
}
