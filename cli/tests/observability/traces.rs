//! One trace per trade, from the ingestor's root span to the writer's and the API's.

use crate::common;
use crate::pipeline::{log, now_ms, sample, scrape, settings, trades, Pipeline};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_runtime::broker;
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::Settings;
use tickwatch_testkit::{free_port, stack, unique, ChildGuard};

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
