//! The query API under load, beside baselines measured in the same run.
//!
//! `tickwatch api serve` runs as a second process (the release build, built here when stale)
//! on a free loopback port of the local stack; this process loads it open-loop
//! (`tickwatch_bench::load`: requests due on a fixed schedule, latency counted from each
//! request's due time, keep-alive HTTP/1.1 connections). One row per target:
//!
//! - hot queries at 1 000 req/s, beside `GET /healthz` on the same server at the same rate
//!   (the floor of the HTTP path): `/api/v1/latest` and `/api/v1/spreads` of binance
//!   BTC-USDT (a trade, a 1s book top and a spread signal published here to topics of this
//!   run's own prefix, which the API follows), `/api/v1/instruments`, and `/api/v1/book` of a
//!   100-level book put in Redis under this run's own key prefix, as the book worker writes
//!   it;
//! - one UTC day of 1m k-lines (1 440 bars, seeded here for binance BTC-USDT on 2026-01-07, a
//!   day no test writes) through `/api/v1/klines` at 20 and at 50 req/s with the API's answer
//!   cache kept 1 ms (`cache.history_ttl: 1ms`, the shortest it takes; requests are due 20 ms
//!   or more apart, so each is a ClickHouse query while the API keeps up), each beside the
//!   same SELECT sent straight to ClickHouse's HTTP interface at the same rate (the API's
//!   exact request: POST, parameters bound by the server, JSONEachRow), and the same range at
//!   50 req/s through a second API process with the default cache (`history_ttl: 5s`).
//!
//! A row whose achieved rate falls below its schedule is over capacity: it is flagged, and
//! its latencies are then mostly queueing (they grow with the phase), as a user would see.
//!
//! It asserts only correctness: the API's 1 440 bars are the seeded ones, ClickHouse's own
//! answer has the same rows, every k-line answer under load has the same size, and no answer
//! is a 4xx. Times are printed, never judged.
//! `cargo bench -p tickwatch-bench --bench api` (brings the local stack up;
//! `TW_BENCH_TICKWATCH=<binary>` runs another `tickwatch` build instead of the release one).

mod data;
mod report;
mod server;

use data::{bars, book, publish_hot, seed, wait_hot};
use report::print_tables;
use serde_json::Value;
use server::{clickhouse_target, cpu_time, get, send_once, tickwatch_binary, Api, Setup};
use std::time::Duration;
use tickwatch_bench::load::{self, Load, Target, TargetReport};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::hot_book;
use tickwatch_runtime::state::StateStore;

const VENUE: &str = "binance";
const INSTRUMENT: &str = "BTC-USDT";
/// 2026-01-07T00:00:00Z.
const DAY_MS: i64 = 1_767_744_000_000;
const BARS: usize = 1_440;
const MINUTE_MS: i64 = 60_000;

/// The topics `tickwatch api serve` follows (under `--topic-prefix`).
const FOLLOWED: [&str; 6] = ["trades", "reference", "book.1s", "signals", "price.smooth", "alerts"];

const HOT_RATE: f64 = 1_000.0;
/// The k-line rows' rates. 50 req/s is about what the uncached path holds on 2 shared cores
/// (each request costs the API ~16-20 ms of CPU and ClickHouse ~12-15 ms), so 20 req/s too.
const HISTORY_RATES: [f64; 2] = [20.0, 50.0];
const CONNECTIONS: usize = 8;
const WARMUP: Duration = Duration::from_secs(2);
const HOT_PHASE: Duration = Duration::from_secs(15);
const HISTORY_PHASE: Duration = Duration::from_secs(20);

/// The API's k-line SELECT for one page (api/src/routes/market.rs `KLINES`, paged by
/// `App::history` in api/src/routes/mod.rs: the cursor column, the conditions with bound
/// parameters, the order and `limit + 1`), as the API posts it to ClickHouse.
const KLINES_SQL: &str = "SELECT toUnixTimestamp64Milli(open_time) AS open_time_ms, \
    toUnixTimestamp64Milli(close_time) AS close_time_ms, \
    toString(open) AS open, toString(high) AS high, toString(low) AS low, toString(close) AS close, \
    toString(volume) AS volume, toString(quote_volume) AS quote_volume, toString(vwap) AS vwap, trade_count, \
    toString(taker_buy_volume) AS taker_buy_volume, toString(verification) AS verification, version, \
    tuple(toUnixTimestamp64Micro(open_time)) AS _cursor FROM klines FINAL \
    WHERE venue = {eq_venue:String} AND instrument = {eq_instrument:String} AND interval = {eq_interval:String} \
    AND open_time >= fromUnixTimestamp64Milli({from:Int64}) AND open_time < fromUnixTimestamp64Milli({to:Int64}) \
    ORDER BY toUnixTimestamp64Micro(open_time) LIMIT 1441 FORMAT JSONEachRow";

fn main() {
    let stack = tickwatch_testkit::stack();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let ch = ClickHouse::new(&stack.settings.clickhouse);
    let bars = bars();
    let seeded = rt.block_on(seed(&ch, &bars));
    let binary = tickwatch_binary();

    let scratch = std::env::temp_dir().join(tickwatch_testkit::unique("tw-bench-api"));
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    // The book, as the book worker writes it, under this run's own prefix.
    let redis_prefix = format!("{}:", tickwatch_testkit::unique("tickwatch:bench-api"));
    let mut books = StateStore::new(&stack.redis_url, &redis_prefix);
    books
        .put_all_expiring(hot_book::SCHEMA, &[(hot_book::key(VENUE, INSTRUMENT), book())], 15 * 60_000)
        .expect("put the book in Redis");
    // The followed topics, under this run's own prefix.
    let topic_prefix = format!("{}.", tickwatch_testkit::unique("bench-api"));
    let specs: Vec<TopicSpec> = FOLLOWED
        .iter()
        .map(|t| TopicSpec { name: format!("{topic_prefix}{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    rt.block_on(broker::create_topics(&stack.broker(), &specs)).expect("create the followed topics");
    let setup =
        Setup { binary, settings: stack.settings_path.clone(), scratch: scratch.clone(), redis_prefix, topic_prefix };
    let mut api = Api::start(&setup, "nocache", "1ms");
    let base = api.base.clone();
    let http = reqwest::Client::builder().no_proxy().build().expect("an HTTP client");
    rt.block_on(publish_hot(&setup.topic_prefix));
    rt.block_on(wait_hot(&http, &base));

    // Correctness first: the day through the API is the seeded day, and ClickHouse's own
    // answer to the API's SELECT has the same rows.
    let klines_url = format!(
        "{base}/api/v1/klines?venue={VENUE}&instrument={INSTRUMENT}&interval=1m&from={DAY_MS}&to={}&limit={BARS}",
        DAY_MS + BARS as i64 * MINUTE_MS
    );
    let (status, api_body) = rt.block_on(get(&http, &klines_url));
    assert_eq!(status, 200, "{klines_url}: {api_body}");
    let answer: Value = serde_json::from_str(&api_body).expect("JSON");
    let items = answer["items"].as_array().expect("items");
    assert_eq!(items.len(), BARS, "the API's answer has the day's 1 440 bars");
    assert_eq!(answer["next_cursor"], Value::Null, "one page holds the day");
    for (item, bar) in items.iter().zip(&bars) {
        bar.check(item);
    }
    let ch_target = clickhouse_target(&stack.settings.clickhouse);
    let ch_body = rt.block_on(send_once(&http, &ch_target));
    let ch_rows: Vec<Value> = ch_body
        .lines()
        .map(|l| {
            let mut row: Value = serde_json::from_str(l).expect("a JSON row");
            row.as_object_mut().expect("an object").remove("_cursor");
            row
        })
        .collect();
    assert_eq!(&ch_rows, items, "ClickHouse's answer to the API's SELECT has the API's rows");

    // The hot targets: each must answer 200 on a quiet stack to be measured.
    let api_get = |path: &str| Target::get(path, format!("{base}{path}"));
    let mut hot = vec![
        api_get("/api/v1/latest?venue=binance&instrument=BTC-USDT"),
        api_get("/api/v1/instruments"),
        api_get("/api/v1/spreads?instrument=BTC-USDT"),
        api_get("/api/v1/book?venue=binance&instrument=BTC-USDT&depth=20"),
    ];
    let mut skipped = Vec::new();
    hot.retain(|t| {
        let (status, body) = rt.block_on(get(&http, &t.url));
        let ok = status == 200;
        if !ok {
            skipped.push(format!("{} ({status}: {})", t.name, body.chars().take(160).collect::<String>()));
        }
        ok
    });

    let ch_pid: Option<u32> =
        std::fs::read_to_string(stack.dir.join("run/clickhouse.pid")).ok().and_then(|p| p.trim().parse().ok());
    let procs = |api: &Api| Procs { api: Some(api.pid()), clickhouse: ch_pid };
    let mut rows: Vec<Row> = Vec::new();
    let floor = rows.len();
    rows.push(run_phase(&rt, api_get("/healthz"), HOT_RATE, HOT_PHASE, procs(&api), None, None));
    for t in hot {
        rows.push(run_phase(&rt, t, HOT_RATE, HOT_PHASE, procs(&api), Some(floor), None));
    }
    // The day's k-lines, each API row beside ClickHouse answering the API's SELECT directly
    // at the same rate.
    let direct_label = |rate: f64| format!("ClickHouse HTTP direct: the API's SELECT of the day @ {rate} req/s");
    let klines_label = |ttl: &str, rate: f64| format!("/api/v1/klines 1 day of 1m, history_ttl {ttl} @ {rate} req/s");
    let mut direct = Vec::new();
    for rate in HISTORY_RATES {
        direct.push(rows.len());
        let t = Target { name: direct_label(rate), ..ch_target.clone() };
        let only_ch = Procs { api: None, clickhouse: ch_pid };
        rows.push(run_phase(&rt, t, rate, HISTORY_PHASE, only_ch, None, Some(ch_body.len())));
        let t = Target::get(klines_label("1ms", rate), klines_url.clone());
        let base = Some(rows.len() - 1);
        rows.push(run_phase(&rt, t, rate, HISTORY_PHASE, procs(&api), base, Some(api_body.len())));
    }
    api.stop();

    // The same range through an API with the default answer cache, at the higher rate.
    let mut cached_api = Api::start(&setup, "cache", "5s");
    let rate = HISTORY_RATES[HISTORY_RATES.len() - 1];
    let t = Target::get(klines_label("5s", rate), klines_url.replace(&base, &cached_api.base));
    let base = direct.last().copied();
    rows.push(run_phase(&rt, t, rate, HISTORY_PHASE, procs(&cached_api), base, Some(api_body.len())));
    cached_api.stop();
    let _ = books.delete(&hot_book::key(VENUE, INSTRUMENT));

    print_tables(&rows, seeded, &skipped, &klines_url);

    // Correctness under load: no 4xx anywhere, and every k-line answer the size of the
    // checked one (ClickHouse's answer too).
    for r in &rows {
        let client_errors: u64 =
            r.report.statuses.iter().filter(|(s, _)| (400..500).contains(*s)).map(|(_, n)| n).sum();
        assert_eq!(client_errors, 0, "{}: 4xx answers under load: {}", r.label, r.report.problems());
        if let Some(len) = r.body_len {
            let size = r.report.answered() * len as u64;
            assert_eq!(r.report.bytes, size, "{}: every answer has the checked answer's size", r.label);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The processes whose CPU a phase counts.
#[derive(Clone, Copy)]
struct Procs {
    api: Option<u32>,
    clickhouse: Option<u32>,
}

/// One measured target, and what it cost the API and ClickHouse processes.
struct Row {
    label: String,
    report: TargetReport,
    asked: f64,
    achieved: f64,
    api_cpu_us: Option<f64>,
    clickhouse_cpu_us: Option<f64>,
    baseline: Option<usize>,
    /// Every answer must have this many bytes.
    body_len: Option<usize>,
}

fn run_phase(
    rt: &tokio::runtime::Runtime,
    target: Target,
    rate: f64,
    duration: Duration,
    procs: Procs,
    baseline: Option<usize>,
    body_len: Option<usize>,
) -> Row {
    let label = target.name.clone();
    let mut load = Load::new(rate, duration, CONNECTIONS, vec![target]);
    load.warmup = WARMUP;
    // CPU over the whole run (warm-up and drain included) per request sent in it.
    let before = (procs.api.map(cpu_time), procs.clickhouse.map(cpu_time));
    let report = rt.block_on(load::run(&load)).expect("a load run");
    let sent = report.targets[0].send_lag.len() as f64 + (rate * WARMUP.as_secs_f64()).round();
    let per_request = |pid: Option<u32>, before: Option<Duration>| {
        Some((cpu_time(pid?) - before?).as_secs_f64() * 1e6 / sent.max(1.0))
    };
    let (api_cpu_us, clickhouse_cpu_us) = (per_request(procs.api, before.0), per_request(procs.clickhouse, before.1));
    let achieved = report.achieved_rate();
    let report = report.targets.into_iter().next().expect("one target");
    eprintln!("  {label}: {} answered, p95 {} ms", report.answered(), load::ms(report.latency.quantile(0.95)));
    Row { label, report, asked: rate, achieved, api_cpu_us, clickhouse_cpu_us, baseline, body_len }
}
