//! A collector that is not there: spans are dropped and counted, the caller never waits on
//! it, and a later flush still returns. (The path to a real collector is tested end to end
//! in cli/tests/tracing.rs.)

use std::time::{Duration, Instant};
use tickwatch_runtime::settings::OtelSettings;
use tickwatch_runtime::trace::{self, Span, SpanKind};

#[test]
fn spans_for_an_absent_collector_are_dropped_and_counted() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT");
    std::env::remove_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    let settings = OtelSettings { endpoint: format!("http://127.0.0.1:{port}/"), sample_ratio: 1.0 };
    assert_eq!(trace::traces_url(&settings).as_deref(), Some(format!("http://127.0.0.1:{port}/v1/traces").as_str()));
    assert!(trace::render_metrics().is_empty(), "no tracing metrics before tracing starts");
    assert_eq!(
        trace::init(&settings, "tickwatch-test").as_deref(),
        Some(format!("http://127.0.0.1:{port}/v1/traces").as_str())
    );

    let started = Instant::now();
    for _ in 0..3 {
        let root = trace::sample_root().expect("a ratio of 1 samples every record");
        let mut span = Span::start("send raw.trades", SpanKind::Producer, root, None);
        span.attr("messaging.kafka.offset", 7i64);
        span.end();
    }
    assert!(started.elapsed() < Duration::from_secs(1), "ending a span does not wait for the collector");
    // A child of a traced record's header joins its trace.
    let root = trace::sample_root().unwrap();
    let header = root.header_value();
    let parent = trace::from_header(Some(header.as_bytes())).unwrap();
    assert_eq!(parent, root);
    let child = Span::child("insert trades", SpanKind::Consumer, &parent);
    assert_eq!(child.context().trace_id, root.trace_id);
    child.end();
    // An unsampled parent is not followed.
    let unsampled = format!("{}-00", &header[..header.len() - 3]);
    assert_eq!(trace::from_header(Some(unsampled.as_bytes())), None);

    trace::flush(Duration::from_secs(30));
    let text = trace::render_metrics();
    assert!(text.contains("otel_spans_exported_total{} 0\n"), "{text}");
    assert!(text.contains("otel_spans_dropped_total{} 4\n"), "{text}");
}
