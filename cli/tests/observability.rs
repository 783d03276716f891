//! The pipeline as operations see it, every part real: a fake Binance → `ingest` → the trades
//! transform in the transform host → the ClickHouse writer and the API's follower.
//! - Traces: every stage exports OTLP/HTTP to Rotel (an OpenTelemetry collector from PyPI),
//!   which puts the spans it received on a topic of the real broker. One trace per trade: the
//!   ingestor's root span, the host's under it, and the writer's and the API's under the
//!   host's; the writer's span ends once the row is in ClickHouse.
//! - The SLO report from the metrics: the stack's Prometheus scrapes the ingestor (which the
//!   fake venue keeps disconnecting) and the writer; `tickwatch slo --prometheus` reads the
//!   figures back per venue.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_fakes::synthetic::{write_recording, Event, Start};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::Settings;
use tickwatch_testkit::prometheus::{query_value, ScrapeTarget};
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{free_port, repo_root, stack, unique, wait_http, ChildGuard};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");
const TRADES: i64 = 40;

/// A span as the collector passed it on.
#[derive(Debug, Clone)]
struct SpanSeen {
    service: String,
    name: String,
    span_id: String,
    parent: String,
    attrs: BTreeMap<String, String>,
    start_ns: u64,
    end_ns: u64,
}

/// Rotel's Kafka exporter writes each request as JSON: an array of ResourceSpans.
fn spans_of(payload: &[u8]) -> Vec<(String, SpanSeen)> {
    let doc: Value = serde_json::from_slice(payload).expect("the collector writes JSON");
    let mut out = Vec::new();
    for rs in doc.as_array().expect("an array of ResourceSpans") {
        let service = attr_map(&rs["resource"]["attributes"]).remove("service.name").unwrap_or_default();
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            for s in ss["spans"].as_array().into_iter().flatten() {
                let ns = |k: &str| s[k].as_str().and_then(|v| v.parse().ok()).or(s[k].as_u64()).unwrap_or_default();
                out.push((
                    s["traceId"].as_str().unwrap_or_default().to_string(),
                    SpanSeen {
                        service: service.clone(),
                        name: s["name"].as_str().unwrap_or_default().to_string(),
                        span_id: s["spanId"].as_str().unwrap_or_default().to_string(),
                        parent: s["parentSpanId"].as_str().unwrap_or_default().to_string(),
                        attrs: attr_map(&s["attributes"]),
                        start_ns: ns("startTimeUnixNano"),
                        end_ns: ns("endTimeUnixNano"),
                    },
                ));
            }
        }
    }
    out
}

fn attr_map(list: &Value) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for a in list.as_array().into_iter().flatten() {
        let v = &a["value"];
        let text = v["stringValue"].as_str().map(str::to_string).or_else(|| v["intValue"].as_str().map(str::to_string));
        let text = text.or_else(|| v["intValue"].as_i64().map(|i| i.to_string())).unwrap_or_default();
        m.insert(a["key"].as_str().unwrap_or_default().to_string(), text);
    }
    m
}

fn log(prefix: &str, name: &str) -> std::fs::File {
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

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The stack's settings with a ClickHouse database of the test's own, migrated; with
/// `otel_endpoint`, tracing on with every record sampled.
fn settings(prefix: &str, otel_endpoint: Option<&str>) -> (std::path::PathBuf, String) {
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
struct Pipeline {
    prefix: String,
    settings: std::path::PathBuf,
    dir: std::path::PathBuf,
    host_metrics: String,
    sink_metrics: String,
    api_metrics: String,
    ingest_metrics: String,
    /// Kept running until the test ends.
    children: Vec<ChildGuard>,
}

impl Pipeline {
    /// Topics, the transform host, the ClickHouse writer and the API, all following the
    /// test's topics; the venue and the ingestor come with [`Pipeline::venue`].
    async fn start(prefix: &str, settings: std::path::PathBuf) -> Pipeline {
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
    fn venue(&mut self, events: &[Event], channels: &str, faults: &[&str]) {
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
fn trades(n: i64, t0_ms: i64) -> Vec<Event> {
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
async fn scrape(listen: &str) -> String {
    reqwest::get(format!("http://{listen}/metrics")).await.unwrap().text().await.unwrap()
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_is_one_trace_from_the_ingestor_to_the_writer_and_the_api() {
    let _one_at_a_time = common::SERIAL.lock().await;
    let s = stack();
    let prefix = unique("otel");
    let spans_topic = format!("{prefix}.otel.spans");
    // The collector: OTLP/HTTP in, the spans as JSON on a topic of the real broker.
    let rotel = s.var("TW_ROTEL_BIN").expect("TW_ROTEL_BIN in .stack/env (scripts/stack.sh up)").to_string();
    let (http_port, grpc_port) = (free_port(), free_port());
    let collector = Command::new(&rotel)
        .args(["start", "--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
        .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
        .args(["--exporter", "kafka", "--kafka-exporter-brokers", &s.broker().bootstrap])
        .args(["--kafka-exporter-traces-topic", &spans_topic, "--kafka-exporter-format", "json"])
        .args(["--kafka-exporter-linger-ms", "50"])
        .stdout(Stdio::null())
        .stderr(log(&prefix, "rotel"))
        .spawn()
        .expect("the collector starts");
    let _collector = ChildGuard(collector);
    let (settings, _) = settings(&prefix, Some(&format!("http://127.0.0.1:{http_port}")));
    let mut p = Pipeline::start(&prefix, settings).await;
    p.venue(&trades(TRADES, now_ms() + 2_000), "trades", &[]);
    let (input, output) = (format!("{prefix}.raw.trades"), format!("{prefix}.trades"));

    // Read the spans until every trade's trace is whole.
    let reader: BaseConsumer = broker::client_config(&s.broker()).set("group.id", unique("spans")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&spans_topic, 0, Offset::Offset(0)).unwrap();
    reader.assign(&tpl).unwrap();
    let mut traces: BTreeMap<String, Vec<SpanSeen>> = BTreeMap::new();
    let whole = |spans: &Vec<SpanSeen>| {
        ["tickwatch-ingest", "tickwatch-transform", "tickwatch-sink-clickhouse", "tickwatch-api"]
            .iter()
            .all(|svc| spans.iter().any(|s| s.service == *svc))
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while traces.values().filter(|t| whole(t)).count() < TRADES as usize {
        assert!(
            Instant::now() < deadline,
            "{} of {TRADES} traces whole after 2 minutes ({} traces seen; services: {:?}); logs in target/test-logs/{prefix}-*.log",
            traces.values().filter(|t| whole(t)).count(),
            traces.len(),
            traces.values().flatten().map(|s| s.service.as_str()).collect::<BTreeSet<_>>()
        );
        let Some(Ok(m)) = reader.poll(Duration::from_millis(200)) else { continue };
        for (trace, span) in spans_of(m.payload().unwrap_or_default()) {
            traces.entry(trace).or_default().push(span);
        }
    }

    let ch = ClickHouse::new(&Settings::load(&p.settings).unwrap().clickhouse);
    let mut trade_ids = BTreeSet::new();
    let mut receipt_to_row_ms = Vec::new();
    for (trace, spans) in traces.iter().filter(|(_, t)| whole(t)) {
        let only = |svc: &str| {
            let of: Vec<&SpanSeen> = spans.iter().filter(|s| s.service == svc).collect();
            assert_eq!(of.len(), 1, "one {svc} span in trace {trace}: {spans:#?}");
            of[0]
        };
        let (root, host, sink, api) = (
            only("tickwatch-ingest"),
            only("tickwatch-transform"),
            only("tickwatch-sink-clickhouse"),
            only("tickwatch-api"),
        );
        assert_eq!(spans.len(), 4, "nothing else in trace {trace}: {spans:#?}");
        assert_eq!(root.parent, "", "the ingestor's span is the root");
        assert_eq!(root.name, format!("send {input}"));
        assert_eq!(host.parent, root.span_id, "the host's span hangs under the ingestor's");
        assert_eq!(host.name, format!("process {input}"));
        assert_eq!(sink.parent, host.span_id, "the writer's span hangs under the host's");
        assert_eq!(sink.name, "insert trades");
        assert_eq!(api.parent, host.span_id, "the API's span hangs under the host's");
        assert_eq!(api.name, format!("follow {output}"));
        for span in spans {
            assert!(span.start_ns > 0 && span.end_ns >= span.start_ns, "{span:?}");
        }
        // Causal order: a stage reads what the one before it acknowledged.
        assert!(host.start_ns >= root.start_ns && sink.end_ns >= host.start_ns, "{spans:#?}");
        receipt_to_row_ms.push((sink.end_ns - root.start_ns) / 1_000_000);
        // The root names the trade; the writer's span ended once its row was in ClickHouse.
        let key = &root.attrs["tickwatch.dedup_key"];
        let id = key.rsplit('|').next().unwrap().to_string();
        assert!(key.starts_with("binance|BTCUSDT|trades|"), "{key}");
        assert!(trade_ids.insert(id.clone()), "trade {id} has one trace");
        let rows = ch.execute(&format!("SELECT count() FROM trades FINAL WHERE trade_id = '{id}'")).await.unwrap();
        assert_eq!(rows.trim(), "1", "trade {id} is in ClickHouse");
    }
    receipt_to_row_ms.sort_unstable();
    eprintln!("receipt to row in ClickHouse, per trace (ms): {receipt_to_row_ms:?}");
    let expected: BTreeSet<String> = (0..TRADES).map(|i| (1_000 + i).to_string()).collect();
    assert_eq!(trade_ids, expected, "every trade, and nothing else, has its trace");

    // Each stage counts what the collector took.
    for listen in [&p.host_metrics, &p.sink_metrics, &p.api_metrics, &p.ingest_metrics] {
        let text = scrape(listen).await;
        let exported = sample(&text, "otel_spans_exported_total").unwrap_or_else(|| panic!("{listen}: {text}"));
        assert!(exported >= TRADES as f64, "{listen} exported {exported} spans");
        assert_eq!(sample(&text, "otel_spans_dropped_total"), Some(0.0), "{listen} dropped none");
    }
}

/// The upper bounds of a histogram's buckets (`+Inf` as infinity) and their cumulative
/// counts, from a /metrics page: the series `name_bucket{labels,le=...}`.
fn buckets(text: &str, name: &str, labels: &str) -> Vec<(f64, f64)> {
    let head = format!("{name}_bucket{{{labels},le=\"");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&head)?;
            let (le, value) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, value.parse().ok()?))
        })
        .collect()
}

/// The bounds of the bucket holding quantile `q` of a cumulative histogram: (lower, upper).
fn bucket_of(b: &[(f64, f64)], q: f64) -> (f64, f64) {
    let total = b.last().map_or(0.0, |x| x.1);
    let rank = q * total;
    let i = b.iter().position(|(_, c)| *c >= rank).unwrap();
    (if i == 0 { 0.0 } else { b[i - 1].0 }, b[i].0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slo_report_reads_latency_recovery_and_reconnects_from_prometheus() {
    let _one_at_a_time = common::SERIAL.lock().await;
    let s = stack();
    let prefix = unique("slom");
    let (settings, _) = settings(&prefix, None);
    let mut p = Pipeline::start(&prefix, settings).await;
    // Prometheus scrapes the ingestor and the writer from before their first record.
    let (ingest_name, sink_name) = (format!("{prefix}-ingest"), format!("{prefix}-sink"));
    let _targets =
        [ScrapeTarget::add(s, &ingest_name, &p.ingest_metrics), ScrapeTarget::add(s, &sink_name, &p.sink_metrics)];
    let deadline = Instant::now() + Duration::from_secs(30);
    while query_value(s, &format!("up{{instance_name=\"{sink_name}\"}}")).await != Some(1.0) {
        assert!(Instant::now() < deadline, "Prometheus never scraped the writer");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // 25 s of trades and book changes; the venue drops the connection every 60 frames.
    let from_ms = now_ms();
    let t0 = from_ms + 3_000;
    let mut events = trades(250, t0);
    events.extend((0..250).map(|i| Event::Depth {
        inst: 0,
        ms: t0 + 50 + i * 100,
        id: i + 1,
        bids: vec![[format!("1.{:02}", i % 20), (1 + i % 7).to_string()]],
        asks: vec![],
    }));
    events.sort_by_key(|e| match e {
        Event::Trade { ms, .. } | Event::Depth { ms, .. } => *ms,
    });
    p.venue(&events, "trades, depth", &["--disconnect-after", "60"]);
    tokio::time::sleep(Duration::from_millis((t0 + 25_000 - now_ms()).max(0) as u64)).await;

    // Once nothing moves any more, Prometheus holds what the stages counted.
    let watched = [
        (&p.sink_metrics, &sink_name, "event_end2end_latency_ms_count{table=\"trades\",venue=\"binance\"}"),
        (&p.ingest_metrics, &ingest_name, "book_resync_seconds_count{venue=\"binance\"}"),
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut settled = true;
        for (listen, name, series) in &watched {
            let direct = sample(&scrape(listen).await, series);
            let promql = series.replacen('{', &format!("{{instance_name=\"{name}\","), 1);
            settled &= direct.is_some() && direct == query_value(s, &promql).await;
        }
        let direct = sample(&scrape(&p.ingest_metrics).await, "ws_reconnects_total");
        let reconnects = query_value(s, &format!("sum(ws_reconnects_total{{instance_name=\"{ingest_name}\"}})")).await;
        let direct_sum: f64 = scrape(&p.ingest_metrics)
            .await
            .lines()
            .filter(|l| l.starts_with("ws_reconnects_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        settled &= direct.is_some() && reconnects == Some(direct_sum);
        if settled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never caught up with the stages; logs in target/test-logs/{prefix}-*.log"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (sink_text, ingest_text) = (scrape(&p.sink_metrics).await, scrape(&p.ingest_metrics).await);
    let to_ms = now_ms();

    let out = Command::new(BIN)
        .arg("--config")
        .arg(&p.settings)
        .args(["slo", "--from", &from_ms.to_string(), "--to", &to_ms.to_string(), "--format", "json"])
        .args(["--prometheus", &s.prometheus_url])
        .output()
        .unwrap();
    assert!(out.status.success(), "tickwatch slo: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let binance = report["venues"].as_array().unwrap().iter().find(|v| v["venue"] == "binance").expect("binance");
    let m = &binance["metrics"];
    eprintln!("binance from the metrics: {m}");
    assert!(binance["trades"].as_i64().is_some_and(|n| n > 100), "ClickHouse's figures stay: {binance}");

    // Latency: where the writer's own histogram puts its P95 (between its P90 and P99 buckets),
    // counting what it observed within the range. The histogram appears with the writer's first
    // batch, and a series' first sample is not an increase: those records are not in the range.
    let labels = "table=\"trades\",venue=\"binance\"";
    let mut latency = buckets(&sink_text, "event_end2end_latency_ms", labels);
    let range = format!("{}s", (now_ms() - from_ms) / 1000 + 1);
    for (le, count) in &mut latency {
        let le = if le.is_infinite() { "+Inf".to_string() } else { le.to_string() };
        let series = format!("event_end2end_latency_ms_bucket{{instance_name=\"{sink_name}\",{labels},le=\"{le}\"}}");
        let first = query_value(s, &format!("min_over_time({series}[{range}])")).await;
        *count -= first.unwrap_or_else(|| panic!("Prometheus holds {series}"));
    }
    let (lo, hi) = (bucket_of(&latency, 0.90).0, bucket_of(&latency, 0.99).1);
    let p95 = m["latency_p95_ms"].as_f64().unwrap_or_else(|| panic!("a latency figure: {m}"));
    assert!(lo <= p95 && p95 <= hi, "latency P95 {p95} ms within [{lo}, {hi}] ({latency:?})");
    assert_eq!(m["latency_met"], p95 <= 2_000.0);

    // Reconnects: the counter's increase (a series' first sample is not an increase).
    let direct: f64 = ingest_text
        .lines()
        .filter(|l| l.starts_with("ws_reconnects_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(direct >= 3.0, "the venue dropped the connection {direct} times");
    let reconnects = m["reconnects"].as_f64().unwrap();
    assert!(reconnects >= direct - 1.0 && reconnects <= direct, "{reconnects} reconnects of {direct}");

    // Recovery: seconds in the ingestor's histogram, milliseconds in the report.
    let resync = buckets(&ingest_text, "book_resync_seconds", "venue=\"binance\"");
    let top = resync.iter().find(|(_, c)| *c >= resync.last().unwrap().1).unwrap().0;
    let recovery = m["recovery_p95_ms"].as_f64().unwrap_or_else(|| panic!("a recovery figure: {m}"));
    assert!(recovery > 0.0 && recovery <= top * 1000.0, "recovery P95 {recovery} ms, slowest bucket ≤ {top} s");
    assert_eq!(m["recovery_met"], recovery <= 3_000.0);

    // A Prometheus that is not there is an error that names it.
    let absent = format!("http://127.0.0.1:{}", free_port());
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&p.settings)
        .args(["slo", "--from", &from_ms.to_string(), "--prometheus", &absent])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("Prometheus at {absent}")), "{err}");
}
