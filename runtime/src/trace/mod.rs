//! OpenTelemetry traces through the pipeline. The ingestor starts a trace for a sampled
//! share of the raw records and writes its context into the record's `traceparent` header;
//! the transforms carry the headers to their outputs (the transform host as a span of its
//! own), and the stages that read a traced record (the writers, the window builder, the
//! API's follower) each add a span under it. Spans leave over OTLP/HTTP (JSON) when an
//! endpoint is configured (`otel.endpoint` or `OTEL_EXPORTER_OTLP_ENDPOINT`); without one no
//! header is added and every call here is a no-op.

mod context;
mod otlp;

pub use context::{hex, TraceContext, TRACEPARENT};
pub use otlp::{encode, AttrValue, ExportCounters, SpanData, SpanKind};

use crate::settings::OtelSettings;
use otlp::Job;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

struct Tracer {
    tx: Mutex<Option<SyncSender<Job>>>,
    /// `sample_ratio` as a threshold on a random u64.
    threshold: u64,
    counters: &'static ExportCounters,
}

static TRACER: OnceLock<Tracer> = OnceLock::new();
static COUNTERS: OnceLock<ExportCounters> = OnceLock::new();

fn counters() -> &'static ExportCounters {
    COUNTERS.get_or_init(ExportCounters::default)
}

/// Where spans go: the environment's `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL) or
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL), else the settings' `otel.endpoint`.
pub fn traces_url(settings: &OtelSettings) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(url) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Some(url);
    }
    let base =
        env("OTEL_EXPORTER_OTLP_ENDPOINT").or_else(|| Some(settings.endpoint.clone()).filter(|e| !e.is_empty()))?;
    Some(format!("{}/v1/traces", base.trim_end_matches('/')))
}

/// Start exporting this process's spans as `service` (e.g. `tickwatch-ingest`). Returns the
/// URL spans go to, or `None` when tracing is off. A second call keeps the first tracer.
pub fn init(settings: &OtelSettings, service: &str) -> Option<String> {
    let url = traces_url(settings)?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let resource = vec![
        ("service.name", service.to_string()),
        ("service.namespace", "tickwatch".to_string()),
        ("service.version", env!("CARGO_PKG_VERSION").to_string()),
        ("service.instance.id", format!("{host}/{}", std::process::id())),
    ];
    let (tx, rx) = std::sync::mpsc::sync_channel(otlp::QUEUE_SPANS);
    let thread_url = url.clone();
    let started = std::thread::Builder::new()
        .name("otlp-export".into())
        .spawn(move || otlp::export_loop(rx, thread_url, resource, counters()));
    if let Err(e) = started {
        tracing::error!(error = %e, "the span exporter thread did not start; tracing is off");
        return None;
    }
    let threshold = (settings.sample_ratio.clamp(0.0, 1.0) * u64::MAX as f64) as u64;
    let tracer = Tracer { tx: Mutex::new(Some(tx)), threshold, counters: counters() };
    if TRACER.set(tracer).is_err() {
        return None;
    }
    Some(url)
}

fn tracer() -> Option<&'static Tracer> {
    TRACER.get()
}

/// Whether spans are being exported.
pub fn enabled() -> bool {
    tracer().is_some()
}

/// A new trace for this record, or `None` (tracing off, or not in the sample).
pub fn sample_root() -> Option<TraceContext> {
    let t = tracer()?;
    // `<=` so that a ratio of 1.0 samples every record.
    (t.threshold > 0 && context::random_u64() <= t.threshold).then(TraceContext::root)
}

/// The context a record's `traceparent` header carries, when tracing is on and the trace is
/// sampled.
pub fn from_header(value: Option<&[u8]>) -> Option<TraceContext> {
    tracer()?;
    TraceContext::parse(value?).filter(|c| c.sampled)
}

/// The `traceparent` header of a Kafka record (see [`from_header`]).
pub fn from_message<M: rdkafka::Message>(msg: &M) -> Option<TraceContext> {
    use rdkafka::message::Headers;
    tracer()?;
    let headers = msg.headers()?;
    let value = headers.iter().find(|h| h.key == TRACEPARENT)?.value;
    from_header(value)
}

pub fn now_unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// A span being timed. Made only while tracing is on; [`Span::end`] queues it for export.
#[derive(Debug, Clone)]
pub struct Span(SpanData);

impl Span {
    /// A span of its own context `context` under `parent` (none for a trace's root), started
    /// now.
    pub fn start(
        name: impl Into<String>,
        kind: SpanKind,
        context: TraceContext,
        parent: Option<&TraceContext>,
    ) -> Span {
        Span::start_at(name, kind, context, parent, now_unix_ns())
    }

    pub fn start_at(
        name: impl Into<String>,
        kind: SpanKind,
        context: TraceContext,
        parent: Option<&TraceContext>,
        start_unix_ns: u64,
    ) -> Span {
        Span(SpanData {
            context,
            parent_span_id: parent.map(|p| p.span_id),
            name: name.into(),
            kind,
            start_unix_ns,
            end_unix_ns: start_unix_ns,
            attributes: Vec::new(),
            error: None,
        })
    }

    /// A child span of `parent` (a new span id in the same trace).
    pub fn child(name: impl Into<String>, kind: SpanKind, parent: &TraceContext) -> Span {
        Span::start(name, kind, parent.child(), Some(parent))
    }

    pub fn context(&self) -> &TraceContext {
        &self.0.context
    }

    pub fn attr(&mut self, key: &'static str, value: impl Into<AttrValue>) -> &mut Span {
        self.0.attributes.push((key, value.into()));
        self
    }

    pub fn failed(&mut self, message: impl Into<String>) -> &mut Span {
        self.0.error = Some(message.into());
        self
    }

    /// End now and queue for export.
    pub fn end(self) {
        self.end_at(now_unix_ns())
    }

    pub fn end_at(mut self, end_unix_ns: u64) {
        let Some(t) = tracer() else { return };
        self.0.end_unix_ns = end_unix_ns;
        if let Some(tx) = t.tx.lock().expect("tracer lock").as_ref() {
            otlp::try_queue(tx, self.0, t.counters);
        }
    }
}

/// Post every span queued so far and wait (at most `timeout`) for the collector's answer: at
/// the end of a process, so that its last spans are not lost.
pub fn flush(timeout: Duration) {
    let Some(t) = tracer() else { return };
    let (answer_tx, answer_rx) = std::sync::mpsc::channel();
    let queued = t.tx.lock().expect("tracer lock").as_ref().map(|tx| tx.send(Job::Flush(answer_tx)).is_ok());
    if queued == Some(true) {
        let _ = answer_rx.recv_timeout(timeout);
    }
}

/// `otel_spans_exported_total` and `otel_spans_dropped_total`, for a stage's `/metrics`
/// (empty while tracing is off).
pub fn render_metrics() -> String {
    if !enabled() {
        return String::new();
    }
    let c = counters();
    let mut s = String::new();
    crate::metrics::render_counters(
        &mut s,
        "otel_spans_exported_total",
        "Spans the OTLP collector accepted.",
        [(String::new(), c.exported.load(Ordering::Relaxed))],
    );
    crate::metrics::render_counters(
        &mut s,
        "otel_spans_dropped_total",
        "Spans dropped: the export queue was full or the collector refused them.",
        [(String::new(), c.dropped.load(Ordering::Relaxed))],
    );
    s
}
