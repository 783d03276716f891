//! What the end-to-end benchmark and the soak share: the pipeline of real processes over the
//! local stack (the fake Binance's synthetic market → `tickwatch ingest` → `tw-trades.wasm`
//! in `tickwatch transform run` → `tickwatch sink clickhouse`), each stage's CPU and memory
//! from /proc, and one-value ClickHouse queries.
// Each benchmark includes this module and uses a part of it.
#![allow(dead_code)]

pub mod hops;
pub mod memory;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::Settings;
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{spawn_logged, stack, unique, ChildGuard};

pub use tickwatch_testkit::process::{cpu_seconds, memory_mb};

pub const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");
/// Trades a second of one synthetic instrument at most (its market steps a millisecond at a
/// time); a rate takes as many instruments as it needs at 800 a second each.
const PER_INSTRUMENT: f64 = 800.0;
const TOPICS: [&str; 7] =
    ["raw.trades", "raw.depth", "raw.reference", "dq.minute", "signals", "trades", "raw.trades.quarantine"];

/// Run `work` to its end, or until the bench is asked to stop (Ctrl-C, SIGTERM); then `work`
/// is dropped mid-way, and with it its [`Pipeline`], whose guards stop every process it
/// started. Killed without this, a bench left its fake venue, ingestor, host and writer
/// running and publishing into the stack. Exits 130 when stopped.
pub fn run_unless_stopped<T>(rt: &tokio::runtime::Runtime, work: impl std::future::Future<Output = T>) -> T {
    let stopped = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
        tokio::select! {
            out = work => Some(out),
            _ = tokio::signal::ctrl_c() => None,
            _ = term.recv() => None,
        }
    });
    stopped.unwrap_or_else(|| {
        eprintln!("stopped by a signal; the processes the bench started are stopped too");
        std::process::exit(130)
    })
}

/// What the pipeline is asked to carry.
pub struct Plan<'a> {
    /// Trades a second, all instruments together.
    pub rate: u64,
    /// Seconds of market.
    pub seconds: u64,
    /// More `tickwatch fake-venue` arguments (faults, `--synthetic-stream`).
    pub fake_args: &'a [&'a str],
    /// Topics the ClickHouse writer takes (without the prefix).
    pub sink_topics: &'a [&'a str],
    /// The writer's `batch_ms`; None keeps the shipped default.
    pub batch_ms: Option<u64>,
    /// The consumers' `broker.fetch_wait_ms`; None keeps the stack's setting.
    pub fetch_wait_ms: Option<u64>,
    /// The producers' `broker.compression`; None keeps the stack's setting.
    pub compression: Option<&'a str>,
    /// The run's topics on a Tansu of its own (memory storage, started for the run) instead
    /// of the stack's: whether what the stack's broker has served before (the suite, a soak)
    /// slows the run. Tansu keeps one metadata document of every idempotent producer it has
    /// seen and rewrites it whole on every produce request, and a fetch lists every batch
    /// the partition holds.
    pub own_broker: bool,
}

/// A Tansu of the run's own, in memory, on a free port; stopped when dropped.
pub struct OwnBroker {
    pub port: u16,
    child: ChildGuard,
}

impl OwnBroker {
    pub fn start() -> OwnBroker {
        let port = tickwatch_testkit::free_port();
        OwnBroker { port, child: tickwatch_testkit::servers::tansu(stack(), port, "memory://tansu/", &[]) }
    }
}

/// The running stages, in data order.
pub struct Pipeline {
    pub prefix: String,
    /// The market's instruments (SYN0USDT..) and each one's trades a second.
    pub instruments: usize,
    pub per_instrument: f64,
    database: String,
    settings: PathBuf,
    sinks: PathBuf,
    pub ch: ClickHouse,
    pub ingest: ChildGuard,
    pub host: ChildGuard,
    pub writer: ChildGuard,
    fake: ChildGuard,
    /// Last, so that it stops after the stages.
    broker: Option<OwnBroker>,
}

impl Pipeline {
    /// A fresh database and topics, then the writer and the transform host, and (once they
    /// have joined their groups) the fake venue and the ingestor, whose subscription opens
    /// the market.
    pub async fn start(name: &str, plan: &Plan<'_>, wasm: &Path) -> Pipeline {
        let s = stack();
        let prefix = unique(name);
        let database = prefix.replace('-', "_");
        let settings = settings_with_clickhouse(s, &s.settings.clickhouse.url, &database);
        let ok = Command::new(BIN).arg("--config").arg(&settings).arg("migrate").status().expect("migrate runs");
        assert!(ok.success(), "migrate");
        let specs: Vec<TopicSpec> = TOPICS
            .iter()
            .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
            .collect();
        let own_broker = plan.own_broker.then(OwnBroker::start);
        let broker_settings = broker_of(own_broker.as_ref());
        broker::create_topics(&broker_settings, &specs).await.expect("topics");
        let p = format!("{prefix}.");
        let n = ((plan.rate as f64 / PER_INSTRUMENT).ceil() as usize).max(4);
        let per_instrument = plan.rate as f64 / n as f64;
        // The instruments SYN0USDT.. as the ingestor (its symbols file) and the transform
        // (TW_SYMBOLS) know them.
        let aliases: Vec<String> = (0..n)
            .map(|i| format!("{{venue: binance, symbol: SYN{i}USDT, instrument: SYN{i}-USDT, price_precision: 2, size_precision: 3}}"))
            .collect();
        let symbols_yaml = format!("aliases: [{}]", aliases.join(", "));
        let symbols = std::env::temp_dir().join(format!("{prefix}-symbols.yaml"));
        std::fs::write(&symbols, &symbols_yaml).expect("symbols file");
        let text = std::fs::read_to_string(&settings).expect("settings");
        let mut text = text.replace(&s.settings.files.symbols.display().to_string(), &symbols.display().to_string());
        if own_broker.is_some() {
            let stack_bootstrap = format!("bootstrap: {}", s.broker().bootstrap);
            assert!(text.contains(&stack_bootstrap), "the settings name the stack's broker as {stack_bootstrap}");
            text = text.replace(&stack_bootstrap, &format!("bootstrap: {}", broker_settings.bootstrap));
        }
        if let Some(ms) = plan.fetch_wait_ms {
            text = set_broker_field(&text, "fetch_wait_ms", &ms.to_string());
        }
        if let Some(codec) = plan.compression {
            text = set_broker_field(&text, "compression", codec);
        }
        std::fs::write(&settings, text).expect("settings");

        let sinks = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
        let batch = plan.batch_ms.map(|ms| format!(", batch_ms: {ms}")).unwrap_or_default();
        std::fs::write(&sinks, format!("clickhouse: {{topics: [{}]{batch}}}\n", plan.sink_topics.join(", ")))
            .expect("sinks file");
        let writer = spawn_writer(&settings, &prefix, &sinks, 0);
        let m = "--metrics-listen=127.0.0.1:0";
        let mut host_args = words(&format!(
            "transform run --wasm {} --input {p}raw.trades --output {p}trades --output {p}raw.trades.quarantine --group {p}t {m}",
            wasm.display()
        ));
        host_args.extend(["--env".to_string(), format!("TW_SYMBOLS={symbols_yaml}")]);
        let host = spawn(&settings, &prefix, "transform", &host_args);
        // Let the consumers join before the market opens with the first subscription.
        tokio::time::sleep(Duration::from_secs(5)).await;

        let (n_text, seconds, trades) = (n.to_string(), plan.seconds.to_string(), per_instrument.to_string());
        let mut fake_args = vec![
            "--synthetic-seed",
            "7",
            "--synthetic-instruments",
            &n_text,
            "--synthetic-from-now",
            "--synthetic-seconds",
            &seconds,
            "--synthetic-trades",
            &trades,
            "--synthetic-depth",
            "0",
        ];
        fake_args.extend(plan.fake_args);
        let (fake, ws, rest) = fake_venue(&fake_args);
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
        let ingest = spawn(
            &settings,
            &prefix,
            "ingest",
            &words(&format!("ingest --venue binance --exchanges {} --topic-prefix {p} {m}", exchanges.display())),
        );
        let ch = ClickHouse::new(&Settings::load(&settings).expect("settings").clickhouse);
        let broker = own_broker;
        Pipeline {
            prefix,
            instruments: n,
            per_instrument,
            database,
            settings,
            sinks,
            ch,
            ingest,
            host,
            writer,
            fake,
            broker,
        }
    }

    /// Kill the writer without warning (what it held is read again from its last committed
    /// offsets) and start the `nth` new one.
    pub fn crash_writer(&mut self, nth: usize) {
        let _ = self.writer.0.kill();
        let _ = self.writer.0.wait();
        self.writer = spawn_writer(&self.settings, &self.prefix, &self.sinks, nth);
    }

    /// What shares the machine with the stages: the fake venue, the broker (the run's own or
    /// the stack's) and the stack's ClickHouse, as (name, process id).
    pub fn neighbours(&self) -> Vec<(&'static str, u32)> {
        let s = stack();
        let mut all = vec![("fake venue", self.fake.0.id())];
        match &self.broker {
            Some(own) => all.push(("broker", own.child.0.id())),
            None => all.extend(s.server_pid("broker").map(|pid| ("broker", pid))),
        }
        all.extend(s.server_pid("clickhouse").map(|pid| ("clickhouse", pid)));
        all
    }

    /// The broker the run's topics are on.
    pub fn broker_settings(&self) -> tickwatch_runtime::settings::BrokerSettings {
        broker_of(self.broker.as_ref())
    }

    /// The stages as (name, process).
    pub fn stages(&self) -> [(&'static str, &ChildGuard); 3] {
        [("ingest", &self.ingest), ("transform", &self.host), ("writer", &self.writer)]
    }

    pub async fn scalar(&self, sql: &str) -> f64 {
        self.column(sql).await.first().copied().unwrap_or(f64::NAN)
    }

    /// The `v` column of every row `sql` returns.
    pub async fn column(&self, sql: &str) -> Vec<f64> {
        let rows = self.ch.query_rows(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|r| r["v"].as_f64().or_else(|| r["v"].as_str().and_then(|s| s.parse().ok())).unwrap_or(f64::NAN))
            .collect()
    }

    /// Wait until `count_sql` (a `v` column) reaches `at_least` or stops moving for
    /// `still`; returns the last count.
    pub async fn settle(&self, count_sql: &str, still: Duration) -> u64 {
        let (mut last, mut moved) = (0, std::time::Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let n = self.scalar(count_sql).await as u64;
            if n != last {
                (last, moved) = (n, std::time::Instant::now());
            }
            let wait = if n == 0 { still.max(Duration::from_secs(60)) } else { still };
            if moved.elapsed() > wait {
                return last;
            }
        }
    }

    /// Stop every stage and drop the database.
    pub async fn finish(self) {
        let database = self.database.clone();
        let ch = self.ch.clone();
        drop(self);
        let _ = ch.execute(&format!("DROP DATABASE IF EXISTS `{database}`")).await;
    }
}

fn spawn_writer(settings: &Path, prefix: &str, sinks: &Path, nth: usize) -> ChildGuard {
    let p = format!("{prefix}.");
    let args = words(&format!(
        "sink clickhouse --sinks {} --topic-prefix {p} --group {p}w --metrics-listen=127.0.0.1:0",
        sinks.display()
    ));
    spawn(settings, prefix, &format!("writer{nth}"), &args)
}

fn fake_venue(args: &[&str]) -> (ChildGuard, String, String) {
    use std::io::{BufRead, BufReader};
    let mut child: Child = Command::new(BIN)
        .args(["fake-venue", "--venue", "binance"])
        .args(args)
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

/// The stack's broker settings, pointed at the run's own broker when it has one.
fn broker_of(own: Option<&OwnBroker>) -> tickwatch_runtime::settings::BrokerSettings {
    let mut settings = stack().broker();
    if let Some(own) = own {
        settings.bootstrap = format!("127.0.0.1:{}", own.port);
    }
    settings
}

/// `field: value` in the settings' `broker:` section, replacing the field where it is set.
fn set_broker_field(text: &str, field: &str, value: &str) -> String {
    let set = format!("{field}: {value}");
    match text.find(&format!("\n  {field}:")) {
        Some(at) => {
            let at = at + 3;
            let end = text[at..].find('\n').map_or(text.len(), |e| at + e);
            format!("{}{set}{}", &text[..at], &text[end..])
        }
        None => text.replacen("broker:\n", &format!("broker:\n  {set}\n"), 1),
    }
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

/// A stage's process; its log goes to target/bench-logs/<prefix>-<name>.log.
fn spawn(settings: &Path, prefix: &str, name: &str, args: &[String]) -> ChildGuard {
    spawn_logged(BIN, settings, ("bench-logs", prefix, name), args)
}
