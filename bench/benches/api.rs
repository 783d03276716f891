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

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_bench::load::{self, ms, Load, Target, TargetReport};
use tickwatch_bench::repo_root;
use tickwatch_model::{AvroRecord, BookTop, Decimal, InstrumentKind, Signal, TakerSide, Trade};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::hot_book::{self, HotBook};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::state::StateStore;
use tickwatch_testkit::produce::send_records;
use tickwatch_testkit::{free_port, ChildGuard};

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
    eprintln!("  {label}: {} answered, p95 {} ms", report.answered(), ms(report.latency.quantile(0.95)));
    Row { label, report, asked: rate, achieved, api_cpu_us, clickhouse_cpu_us, baseline, body_len }
}

fn print_tables(rows: &[Row], seeded: bool, skipped: &[String], klines_url: &str) {
    println!();
    println!(
        "API under load (`tickwatch api serve`, a second process, loopback): open-loop schedule, latency from each \
         request's due time to its last byte, {CONNECTIONS} keep-alive HTTP/1.1 connections, {} s warm-up, then {} s \
         per hot row and {} s per k-line row; {} cores; k-lines {}.",
        WARMUP.as_secs(),
        HOT_PHASE.as_secs(),
        HISTORY_PHASE.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if seeded { "seeded now" } else { "already seeded" },
    );
    println!("k-line request: {klines_url} (1 440 bars, 420 kB)");
    println!();
    println!(
        "| target | asked req/s | requests | achieved req/s | p50 ms | p95 ms | p99 ms | max ms | not 2xx | p50 / base \
         | p95 / base | API CPU µs/req | ClickHouse CPU µs/req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let cpu = |c: Option<f64>| c.map_or("-".into(), |c| format!("{c:.0}"));
    for r in rows {
        let l = &r.report.latency;
        let ratio = |q: f64| match r.baseline {
            Some(b) => {
                let base = rows[b].report.latency.quantile(q).as_secs_f64();
                format!("{:.2}", l.quantile(q).as_secs_f64() / base.max(1e-6))
            }
            None => "(base)".into(),
        };
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.asked,
            r.report.due(),
            r.achieved,
            ms(l.quantile(0.50)),
            ms(l.quantile(0.95)),
            ms(l.quantile(0.99)),
            ms(l.max()),
            r.report.problems(),
            ratio(0.50),
            ratio(0.95),
            cpu(r.api_cpu_us),
            cpu(r.clickhouse_cpu_us),
        );
    }
    println!();
    println!(
        "Where the time went: on the wire (send → last byte, what a closed-loop tool would report) and this \
         generator's own lag (due → send, included above):"
    );
    println!();
    println!("| target | wire p50 ms | wire p95 ms | wire p99 ms | lag p50 ms | lag p99 ms | bytes/answer |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        let (w, g) = (&r.report.service, &r.report.send_lag);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            ms(w.quantile(0.50)),
            ms(w.quantile(0.95)),
            ms(w.quantile(0.99)),
            ms(g.quantile(0.50)),
            ms(g.quantile(0.99)),
            r.report.bytes.checked_div(r.report.answered()).unwrap_or(0),
        );
    }
    println!();
    let hot: Vec<&Row> = rows.iter().filter(|r| r.baseline == Some(0)).collect();
    let (met, missed): (Vec<&&Row>, Vec<&&Row>) =
        hot.iter().partition(|r| r.report.latency.quantile(0.95) <= Duration::from_millis(10));
    let names = |v: &[&&Row]| v.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join(", ");
    println!(
        "Hot-query goal p95 ≤ 10 ms at {HOT_RATE} req/s: met by [{}]; missed by [{}]",
        names(&met),
        names(&missed)
    );
    for r in rows.iter().filter(|r| r.achieved < 0.95 * r.asked) {
        println!(
            "Over capacity: {} achieved {:.0} of {} req/s; its latencies are mostly queueing and grow with the phase",
            r.label, r.achieved, r.asked
        );
    }
    for s in skipped {
        println!("Not measured (no 200 on this stack): {s}");
    }
    for r in rows.iter().filter(|r| r.report.problems() != "-") {
        println!("WARNING: {}: {} (latencies above count every HTTP answer)", r.label, r.report.problems());
    }
    println!(
        "(CPU per request: the process's user + system time over the phase; ClickHouse's includes other clients.)"
    );
}

/// What every API process of the run shares.
struct Setup {
    binary: PathBuf,
    settings: PathBuf,
    scratch: PathBuf,
    redis_prefix: String,
    topic_prefix: String,
}

/// `tickwatch api serve` on a free port with a private API file: no rate limit in the way,
/// `history_ttl` as given, this run's topics and Redis keys. Stopped (SIGKILL) when dropped.
struct Api {
    base: String,
    child: ChildGuard,
}

impl Api {
    fn start(setup: &Setup, name: &str, history_ttl: &str) -> Api {
        let Setup { binary, settings, scratch, redis_prefix, topic_prefix } = setup;
        let port = free_port();
        let api_yaml = scratch.join(format!("api-{name}.yaml"));
        let dashboard = repo_root().join("api/dashboard");
        std::fs::write(
            &api_yaml,
            format!(
                "listen: 127.0.0.1:{port}\n\
                 dashboard_dir: {}\n\
                 cache:\n  history_ttl: {history_ttl}\n\
                 rate_limit:\n  per_second: 100000\n  burst: 100000\n\
                 hot:\n  redis_prefix: \"{redis_prefix}\"\n",
                dashboard.display()
            ),
        )
        .expect("write the API file");
        let log_path = scratch.join(format!("api-{name}.log"));
        let log = std::fs::File::create(&log_path).expect("the API's log file");
        let child = Command::new(binary)
            .arg("--config")
            .arg(settings)
            .args(["api", "serve", "--listen", &format!("127.0.0.1:{port}"), "--topic-prefix", topic_prefix, "--api"])
            .arg(&api_yaml)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start tickwatch api serve");
        let mut child = ChildGuard(child);
        let base = format!("http://127.0.0.1:{port}");
        eprintln!("tickwatch api serve ({name}) pid {} on {base}, log {}", child.0.id(), log_path.display());
        // Up (/healthz), then ready (/readyz: ClickHouse answers and the topics are followed).
        let deadline = Instant::now() + Duration::from_secs(180);
        for path in ["/healthz", "/readyz"] {
            loop {
                if let Some(status) = child.0.try_wait().expect("the API's status") {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!("tickwatch api serve exited ({status}) before it was ready:\n{log}");
                }
                let ok = Command::new("curl")
                    .args(["-fs", "-o", "/dev/null", &format!("{base}{path}")])
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{base}{path} did not answer 2xx within 180 s; see {}",
                    log_path.display()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Api { base, child }
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    fn stop(&mut self) {
        self.child.terminate();
    }
}

/// A trade, a 1s book top and a spread signal of binance BTC-USDT, now, on this run's topics.
async fn publish_hot(topic_prefix: &str) {
    let stack = tickwatch_testkit::stack();
    let b = stack.broker();
    let registry = RegistryClient::new(&stack.settings.registry.url);
    let producer = ReliableProducer::new(&b).expect("a producer");
    let id = |topic: &str, schema: &'static str| {
        let (registry, subject) = (registry.clone(), format!("{topic_prefix}{topic}-value"));
        // The stack restarts its registry when the debug `tickwatch` was rebuilt, and a
        // long-lived stack's registry takes minutes to read its log back: wait for it.
        async move {
            let deadline = Instant::now() + Duration::from_secs(900);
            let mut attempt = 0u64;
            loop {
                attempt += 1;
                match registry.register(&subject, schema).await {
                    Ok(id) => return id,
                    Err(e) if Instant::now() < deadline => {
                        if attempt % 30 == 1 {
                            eprintln!("  waiting for the schema registry: {e}");
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => panic!("{subject} does not register: {e}"),
                }
            }
        }
    };
    let now = tickwatch_runtime::produce::now_us();
    let dec = |s: &str| -> Decimal { s.parse().expect("a decimal") };
    let trade = Trade {
        venue: VENUE.into(),
        instrument: INSTRUMENT.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: "BTCUSDT".into(),
        trade_id: "5000000001".into(),
        price: dec("91500.01"),
        size: dec("0.01234"),
        taker_side: TakerSide::Buy,
        event_time_us: now,
        receive_time_us: now + 2_000,
        source_lag_ms: 2,
        sequence: None,
    };
    let top = BookTop {
        venue: VENUE.into(),
        instrument: INSTRUMENT.into(),
        interval: "1s".into(),
        window_start_us: now / 1_000_000 * 1_000_000 - 1_000_000,
        window_end_us: now / 1_000_000 * 1_000_000,
        last_update_id: 1_000_000,
        updates: 42,
        bid_price: Some(dec("91499.99")),
        bid_size: Some(dec("1.5")),
        ask_price: Some(dec("91500.01")),
        ask_size: Some(dec("0.75")),
        depth_levels: 20,
        bid_depth: dec("31.25"),
        ask_depth: dec("28.5"),
        imbalance: Some(0.0461),
        version: 1,
        emitted_at_us: now,
    };
    let spread = Signal {
        kind: "spread".into(),
        venue: VENUE.into(),
        venue_b: Some("okx".into()),
        instrument: INSTRUMENT.into(),
        channel: None,
        interval: None,
        value: 1.25,
        unit: "bps".into(),
        at_us: now,
        emitted_at_us: now,
    };
    let topic = |t: &str| format!("{topic_prefix}{t}");
    send_records(&producer, &topic("trades"), id("trades", Trade::SCHEMA_JSON).await, by_instrument, &[trade]).await;
    send_records(&producer, &topic("book.1s"), id("book.1s", BookTop::SCHEMA_JSON).await, by_instrument, &[top]).await;
    send_records(&producer, &topic("signals"), id("signals", Signal::SCHEMA_JSON).await, by_instrument, &[spread])
        .await;
}

fn by_instrument<T>(_: &T) -> String {
    INSTRUMENT.to_string()
}

/// Wait until the API shows the published trade, book top and spread.
async fn wait_hot(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, latest) = get(http, &format!("{base}/api/v1/latest?venue={VENUE}&instrument={INSTRUMENT}")).await;
        let (_, spreads) = get(http, &format!("{base}/api/v1/spreads?instrument={INSTRUMENT}")).await;
        let (latest, spreads): (Value, Value) =
            (serde_json::from_str(&latest).unwrap_or_default(), serde_json::from_str(&spreads).unwrap_or_default());
        let item = &latest["items"][0];
        if item["trade"].is_object() && item["book_top"].is_object() && spreads["items"][0].is_object() {
            return;
        }
        assert!(Instant::now() < deadline, "the API did not show the published values: {latest} {spreads}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// User + system CPU time of a process so far (`/proc/<pid>/stat`).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the API's /proc stat");
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')').expect("(comm)") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let hz: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100);
    Duration::from_micros(ticks * 1_000_000 / hz)
}

/// The release `tickwatch` binary, built now if it is stale (a no-op when it is not).
fn tickwatch_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TW_BENCH_TICKWATCH") {
        return PathBuf::from(path);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "tickwatch"])
        .current_dir(repo_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --release -p tickwatch failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    repo_root().join(target).join("release/tickwatch")
}

/// The query the API sends for the day, sent straight to ClickHouse's HTTP interface the
/// way the API sends it (POST, parameters bound by the server).
fn clickhouse_target(settings: &tickwatch_runtime::settings::ClickHouseSettings) -> Target {
    let from = DAY_MS.to_string();
    let to = (DAY_MS + BARS as i64 * MINUTE_MS).to_string();
    let url = reqwest::Url::parse_with_params(
        &settings.url,
        [
            ("database", settings.database.as_str()),
            ("output_format_json_quote_64bit_integers", "0"),
            ("param_eq_venue", VENUE),
            ("param_eq_instrument", INSTRUMENT),
            ("param_eq_interval", "1m"),
            ("param_from", &from),
            ("param_to", &to),
        ],
    )
    .expect("the ClickHouse URL");
    Target::post("clickhouse", url.as_str(), KLINES_SQL)
        .header("X-ClickHouse-User", &settings.user)
        .header("X-ClickHouse-Key", &settings.password)
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    let resp = http.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("a body"))
}

async fn send_once(http: &reqwest::Client, t: &Target) -> String {
    let mut req = http.request(t.method.clone(), &t.url).body(t.body.clone().unwrap_or_default());
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.expect("ClickHouse answers");
    let status = resp.status();
    let body = resp.text().await.expect("a body");
    assert!(status.is_success(), "ClickHouse refused the API's SELECT ({status}): {body}");
    body
}

/// A 100-level book around the day's prices (2-place prices, 5-place sizes).
fn book() -> HotBook {
    let now_ms = tickwatch_runtime::produce::now_us() / 1_000;
    let level = |i: i64, side: i64| {
        [fixed((9_150_000 + side * (1 + i * 3)).into(), 2), fixed((10_000 + i * 7_919 % 90_000).into(), 5)]
    };
    HotBook {
        bids: (0..hot_book::LEVELS as i64).map(|i| level(i, -1)).collect(),
        asks: (0..hot_book::LEVELS as i64).map(|i| level(i, 1)).collect(),
        last_update_id: 1_000_000,
        at_ms: now_ms,
        written_ms: now_ms,
    }
}

/// One seeded 1m bar: prices in cents (2 places, as binance BTC-USDT), sizes in 1e-5.
struct Bar {
    open_ms: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: i64,
    vwap: i64,
    taker_buy_volume: i64,
    trade_count: i64,
    first_trade_id: i64,
}

/// A seeded random walk through the day, the same every run.
fn bars() -> Vec<Bar> {
    let mut rng = fastrand::Rng::with_seed(20260107);
    let mut close = 9_150_000i64;
    let mut trade_id = 5_000_000_000i64;
    (0..BARS)
        .map(|i| {
            let open = close;
            close = open + rng.i64(-4_000..=4_000);
            let high = open.max(close) + rng.i64(0..=2_500);
            let low = open.min(close) - rng.i64(0..=2_500);
            let volume = rng.i64(1_000_000..=80_000_000);
            let trade_count = rng.i64(500..=6_000);
            let bar = Bar {
                open_ms: DAY_MS + i as i64 * MINUTE_MS,
                open,
                high,
                low,
                close,
                volume,
                vwap: rng.i64(low..=high),
                taker_buy_volume: rng.i64(0..=volume),
                trade_count,
                first_trade_id: trade_id,
            };
            trade_id += trade_count;
            bar
        })
        .collect()
}

/// `units` × 10^-`scale` as a plain decimal.
fn fixed(units: i128, scale: u32) -> String {
    let p = 10i128.pow(scale);
    let sign = if units < 0 { "-" } else { "" };
    format!("{sign}{}.{:0width$}", units.abs() / p, units.abs() % p, width = scale as usize)
}

/// `2026-01-07 00:01:00.000` for a time within the day or at its end.
fn datetime(ms: i64) -> String {
    let s = (ms - DAY_MS) / 1_000;
    format!("2026-01-{:02} {:02}:{:02}:{:02}.000", 7 + s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60)
}

impl Bar {
    fn quote_volume(&self) -> String {
        fixed(i128::from(self.vwap) * i128::from(self.volume), 7)
    }

    fn values(&self) -> String {
        let close_ms = self.open_ms + MINUTE_MS;
        format!(
            "('{VENUE}', '{INSTRUMENT}', '1m', '{}', '{}', {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, '{}', '{}', 1, 'VERIFIED', '{}')",
            datetime(self.open_ms),
            datetime(close_ms),
            fixed(self.open.into(), 2),
            fixed(self.high.into(), 2),
            fixed(self.low.into(), 2),
            fixed(self.close.into(), 2),
            fixed(self.volume.into(), 5),
            self.quote_volume(),
            fixed(self.vwap.into(), 2),
            self.trade_count,
            fixed(self.taker_buy_volume.into(), 5),
            fixed(i128::from(self.vwap) * i128::from(self.taker_buy_volume), 7),
            self.first_trade_id,
            self.first_trade_id + self.trade_count - 1,
            datetime(close_ms),
        )
    }

    /// The API's item for this bar holds exactly the seeded values.
    fn check(&self, item: &Value) {
        let dec = |field: &str| -> Decimal {
            item[field].as_str().unwrap_or_else(|| panic!("{field} is a string in {item}")).parse().expect("a decimal")
        };
        let want = |units: i64, scale: u32| -> Decimal { fixed(units.into(), scale).parse().expect("a decimal") };
        assert_eq!(item["open_time_ms"], self.open_ms, "{item}");
        assert_eq!(item["close_time_ms"], self.open_ms + MINUTE_MS, "{item}");
        assert_eq!(dec("open"), want(self.open, 2), "{item}");
        assert_eq!(dec("high"), want(self.high, 2), "{item}");
        assert_eq!(dec("low"), want(self.low, 2), "{item}");
        assert_eq!(dec("close"), want(self.close, 2), "{item}");
        assert_eq!(dec("volume"), want(self.volume, 5), "{item}");
        assert_eq!(dec("vwap"), want(self.vwap, 2), "{item}");
        assert_eq!(dec("quote_volume"), self.quote_volume().parse::<Decimal>().expect("a decimal"), "{item}");
        assert_eq!(item["trade_count"], self.trade_count, "{item}");
        assert_eq!(item["verification"], "VERIFIED", "{item}");
    }
}

/// Put the day into `klines` unless it is there already (the ReplacingMergeTree keeps one
/// row per bar under FINAL either way). True when it was written now.
async fn seed(ch: &ClickHouse, bars: &[Bar]) -> bool {
    let day_end = DAY_MS + BARS as i64 * MINUTE_MS;
    let present = ch
        .query_rows(&format!(
            "SELECT toUnixTimestamp64Milli(open_time) AS t, toString(close) AS close, toString(volume) AS volume, \
             trade_count FROM klines FINAL WHERE venue = '{VENUE}' AND instrument = '{INSTRUMENT}' AND interval = '1m' \
             AND open_time >= fromUnixTimestamp64Milli({DAY_MS}) AND open_time < fromUnixTimestamp64Milli({day_end}) \
             ORDER BY open_time"
        ))
        .await
        .expect("read the seeded day");
    let same = present.len() == bars.len()
        && present.iter().zip(bars).all(|(row, bar)| {
            let dec = |f: &str| row[f].as_str().and_then(|s| s.parse::<Decimal>().ok());
            row["t"].as_i64() == Some(bar.open_ms)
                && dec("close") == fixed(bar.close.into(), 2).parse().ok()
                && dec("volume") == fixed(bar.volume.into(), 5).parse().ok()
                && row["trade_count"].as_i64().or_else(|| row["trade_count"].as_str()?.parse().ok())
                    == Some(bar.trade_count)
        });
    if same {
        return false;
    }
    let values: Vec<String> = bars.iter().map(Bar::values).collect();
    ch.execute(&format!(
        "INSERT INTO klines (venue, instrument, interval, open_time, close_time, open, high, low, close, volume, \
         quote_volume, vwap, trade_count, taker_buy_volume, taker_buy_quote_volume, first_trade_id, last_trade_id, \
         version, verification, emitted_at) VALUES {}",
        values.join(", ")
    ))
    .await
    .expect("seed the day of k-lines");
    true
}
