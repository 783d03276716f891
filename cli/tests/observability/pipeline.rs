//! The pipeline both tests run: topics of their own, the transform host, the ClickHouse
//! writer, the API, and a fake Binance with its ingestor.

use crate::common;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};
use tickwatch_fakes::synthetic::{write_recording, Event, Start};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{free_port, repo_root, stack, wait_http, ChildGuard};

pub const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");

pub fn log(prefix: &str, name: &str) -> std::fs::File {
    let dir = repo_root().join("target/test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::File::create(dir.join(format!("{prefix}-{name}.log"))).unwrap()
}

fn spawn(settings: &std::path::Path, prefix: &str, name: &str, args: &[&str]) -> ChildGuard {
    let child = Command::new(BIN)
        .arg("--config")
        .arg(settings)
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdout(Stdio::null())
        .stderr(log(prefix, name))
        .spawn()
        .unwrap_or_else(|e| panic!("tickwatch {args:?}: {e}"));
    ChildGuard(child)
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The stack's settings with a ClickHouse database of the test's own, migrated; with
/// `otel_endpoint`, tracing on with every record sampled.
pub fn settings(prefix: &str, otel_endpoint: Option<&str>) -> (std::path::PathBuf, String) {
    let s = stack();
    let database = prefix.replace('-', "_");
    let path = settings_with_clickhouse(s, &s.settings.clickhouse.url, &database);
    if let Some(endpoint) = otel_endpoint {
        let text = std::fs::read_to_string(&path).unwrap();
        let traced = text
            .replace("  endpoint: \"\"\n", &format!("  endpoint: {endpoint}\n"))
            .replace("  sample_ratio: 0.001\n", "  sample_ratio: 1\n");
        assert_ne!(text, traced, "the stack's settings file has an otel block with the sample's defaults");
        std::fs::write(&path, traced).unwrap();
    }
    let out = Command::new(BIN).arg("--config").arg(&path).arg("migrate").output().unwrap();
    assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    (path, database)
}

/// The running pipeline: its processes and where their /metrics are.
pub struct Pipeline {
    pub prefix: String,
    pub settings: std::path::PathBuf,
    pub dir: std::path::PathBuf,
    pub host_metrics: String,
    pub sink_metrics: String,
    pub api_metrics: String,
    pub ingest_metrics: String,
    /// Kept running until the test ends.
    pub children: Vec<ChildGuard>,
}

impl Pipeline {
    /// Topics, the transform host, the ClickHouse writer and the API, all following the
    /// test's topics; the venue and the ingestor come with [`Pipeline::venue`].
    pub async fn start(prefix: &str, settings: std::path::PathBuf) -> Pipeline {
        let wasm = repo_root().join("target/wasm32-wasip1/wasm/tw-trades.wasm");
        assert!(wasm.exists(), "{} is missing: run `make transforms` first", wasm.display());
        let topics = ["raw.trades", "raw.depth", "raw.reference", "dq.minute", "signals", "trades"];
        let more = ["raw.trades.quarantine", "reference", "book.1s", "price.smooth", "alerts", "otel.spans"];
        let specs: Vec<TopicSpec> = topics
            .iter()
            .chain(&more)
            .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
            .collect();
        broker::create_topics(&stack().broker(), &specs).await.unwrap();
        let dir = std::env::temp_dir().join(prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let sinks = dir.join("sinks.yaml");
        std::fs::write(&sinks, "clickhouse: {topics: [trades], batch_ms: 200}\n").unwrap();
        let api_cfg = dir.join("api.yaml");
        std::fs::write(
            &api_cfg,
            format!(
                "dashboard_dir: {}\nhot: {{redis_prefix: \"{prefix}:hot:\"}}\nalerts_state_prefix: \"{prefix}:alerts:\"\n",
                repo_root().join("api/dashboard").display()
            ),
        )
        .unwrap();
        let topic_prefix = format!("{prefix}.");
        let (input, output, quarantine) =
            (format!("{prefix}.raw.trades"), format!("{prefix}.trades"), format!("{prefix}.raw.trades.quarantine"));
        let group = |n: &str| format!("{prefix}-{n}");
        let listen = || format!("127.0.0.1:{}", free_port());
        let (host_metrics, sink_metrics, api_metrics, ingest_metrics) = (listen(), listen(), listen(), listen());
        let host = spawn(
            &settings,
            prefix,
            "host",
            &["transform", "run", "--wasm", wasm.to_str().unwrap(), "--input", &input, "--output", &output]
                .into_iter()
                .chain(["--output", &quarantine, "--group", &group("host"), "--metrics-listen", &host_metrics])
                .collect::<Vec<_>>(),
        );
        let sink = spawn(
            &settings,
            prefix,
            "sink",
            &["sink", "clickhouse", "--sinks", sinks.to_str().unwrap(), "--topic-prefix", &topic_prefix]
                .into_iter()
                .chain(["--group", &group("sink"), "--metrics-listen", &sink_metrics])
                .collect::<Vec<_>>(),
        );
        let api_listen = listen();
        let api = spawn(
            &settings,
            prefix,
            "api",
            &["api", "serve", "--api", api_cfg.to_str().unwrap(), "--listen", &api_listen, "--topic-prefix"]
                .into_iter()
                .chain([topic_prefix.as_str(), "--metrics-listen", &api_metrics])
                .collect::<Vec<_>>(),
        );
        tokio::task::block_in_place(|| wait_http(&format!("http://{api_listen}/readyz"), 60));
        Pipeline {
            prefix: prefix.to_string(),
            settings,
            dir,
            host_metrics,
            sink_metrics,
            api_metrics,
            ingest_metrics,
            children: vec![host, sink, api],
        }
    }

    /// A fake Binance replaying `events` at their pace (with `faults`), and the ingestor of
    /// its BTC-USDT `channels`.
    pub fn venue(&mut self, events: &[Event], channels: &str, faults: &[&str]) {
        let start = Start { bids: vec![["1.00".into(), "1".into()]], asks: vec![["2.00".into(), "1".into()]] };
        let recording = self.dir.join("binance");
        write_recording("binance", &recording, &["BTCUSDT".into()], &[start], events).unwrap();
        let (fake, ws, rest) = common::fake_venue_at("binance", &recording, 1.0, faults);
        let exchanges = self.dir.join("exchanges.yaml");
        std::fs::write(
            &exchanges,
            format!(
                "venues:\n  binance:\n    ws_url: {ws}\n    rest_url: {rest}\n    channels: [{channels}]\n    \
                 instruments: [BTC-USDT]\n    snapshot_depth: 100\n    snapshot_check_period: 5m\n    \
                 max_streams_per_connection: 50\n    subscribe_per_second: 10\n    \
                 reconnect: {{initial_backoff: 50ms, max_backoff: 500ms, jitter: 0.2}}\n    rotate_after: 23h\n    \
                 stall_after: 10m\n"
            ),
        )
        .unwrap();
        let topic_prefix = format!("{}.", self.prefix);
        let ingest = spawn(
            &self.settings,
            &self.prefix,
            "ingest",
            &["ingest", "--venue", "binance", "--exchanges", exchanges.to_str().unwrap(), "--topic-prefix"]
                .into_iter()
                .chain([topic_prefix.as_str(), "--metrics-listen", &self.ingest_metrics])
                .collect::<Vec<_>>(),
        );
        self.children.extend([fake, ingest]);
    }
}

/// A trade every 100 ms for `n` trades, starting 2 s from now.
pub fn trades(n: i64, t0_ms: i64) -> Vec<Event> {
    (0..n)
        .map(|i| Event::Trade {
            inst: 0,
            ms: t0_ms + i * 100,
            id: 1_000 + i,
            px: format!("50000.{:02}", i % 100),
            qty: "0.25".into(),
            buy: i % 2 == 0,
        })
        .collect()
}

/// The sample lines of a /metrics page.
pub async fn scrape(listen: &str) -> String {
    reqwest::get(format!("http://{listen}/metrics")).await.unwrap().text().await.unwrap()
}

pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}
