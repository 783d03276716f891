//! Spans out over OTLP/HTTP with the JSON encoding (`POST <endpoint>/v1/traces`, an
//! `ExportTraceServiceRequest`): one thread per process batches what the stages finish and
//! posts it, retrying what the collector asks to be retried. A full queue or a collector that
//! stays away drops spans (counted), never slows the data path.

use super::context::hex;
use super::TraceContext;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// Spans per request, and how long the first span of a batch waits for company.
const BATCH_SPANS: usize = 512;
const BATCH_WAIT: Duration = Duration::from_millis(500);
/// Spans waiting for the exporter thread; beyond that they are dropped (and counted).
pub(super) const QUEUE_SPANS: usize = 8192;

/// The OTLP span kinds a stage uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Internal = 1,
    Server = 2,
    Producer = 4,
    Consumer = 5,
}

#[derive(Debug, Clone)]
pub enum AttrValue {
    Str(String),
    Int(i64),
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_string())
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(v)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}

/// A finished span.
#[derive(Debug, Clone)]
pub struct SpanData {
    pub context: TraceContext,
    pub parent_span_id: Option<[u8; 8]>,
    pub name: String,
    pub kind: SpanKind,
    pub start_unix_ns: u64,
    pub end_unix_ns: u64,
    pub attributes: Vec<(&'static str, AttrValue)>,
    /// `Some(message)`: the span ended in error.
    pub error: Option<String>,
}

pub(super) enum Job {
    Span(Box<SpanData>),
    /// Post everything queued before this, then answer.
    Flush(std::sync::mpsc::Sender<()>),
}

#[derive(Default)]
pub struct ExportCounters {
    pub exported: AtomicU64,
    pub dropped: AtomicU64,
}

pub(super) fn try_queue(tx: &SyncSender<Job>, span: SpanData, counters: &ExportCounters) {
    match tx.try_send(Job::Span(Box::new(span))) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The request body for a batch: one resource (this process), one scope.
pub fn encode(resource: &[(&'static str, String)], spans: &[Box<SpanData>]) -> Value {
    let attrs = |list: &mut dyn Iterator<Item = (&str, Value)>| -> Vec<Value> {
        list.map(|(k, v)| json!({"key": k, "value": v})).collect()
    };
    let resource_attrs = attrs(&mut resource.iter().map(|(k, v)| (*k, json!({ "stringValue": v }))));
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let a = attrs(&mut s.attributes.iter().map(|(k, v)| {
                let value = match v {
                    AttrValue::Str(t) => json!({ "stringValue": t }),
                    // OTLP JSON carries 64-bit integers as strings.
                    AttrValue::Int(i) => json!({ "intValue": i.to_string() }),
                };
                (*k, value)
            }));
            let status = match &s.error {
                None => json!({}),
                Some(m) => json!({"code": 2, "message": m}),
            };
            json!({
                "traceId": hex(&s.context.trace_id),
                "spanId": hex(&s.context.span_id),
                "parentSpanId": s.parent_span_id.map(|p| hex(&p)).unwrap_or_default(),
                "flags": u32::from(s.context.sampled),
                "name": s.name,
                "kind": s.kind as u8,
                "startTimeUnixNano": s.start_unix_ns.to_string(),
                "endTimeUnixNano": s.end_unix_ns.max(s.start_unix_ns).to_string(),
                "attributes": a,
                "status": status,
            })
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": resource_attrs},
        "scopeSpans": [{"scope": {"name": "tickwatch", "version": env!("CARGO_PKG_VERSION")}, "spans": spans}],
    }]})
}

/// The exporter thread's loop: until every sender is gone.
pub(super) fn export_loop(
    rx: Receiver<Job>,
    url: String,
    resource: Vec<(&'static str, String)>,
    counters: &ExportCounters,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return tracing::error!(error = %e, "the span exporter cannot start; no spans are exported"),
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
    let mut batch: Vec<Box<SpanData>> = Vec::new();
    let mut first_at: Option<Instant> = None;
    let mut failures = 0u64;
    loop {
        let wait = first_at.map_or(Duration::from_secs(3600), |t| BATCH_WAIT.saturating_sub(t.elapsed()));
        let (flush, done, answer) = match rx.recv_timeout(wait) {
            Ok(Job::Span(s)) => {
                batch.push(s);
                first_at.get_or_insert_with(Instant::now);
                (batch.len() >= BATCH_SPANS, false, None)
            }
            Ok(Job::Flush(answer)) => (true, false, Some(answer)),
            Err(RecvTimeoutError::Timeout) => (true, false, None),
            Err(RecvTimeoutError::Disconnected) => (true, true, None),
        };
        if flush && !batch.is_empty() {
            let body = encode(&resource, &batch).to_string();
            let n = batch.len() as u64;
            batch.clear();
            first_at = None;
            match runtime.block_on(post(&client, &url, body)) {
                Ok(()) => {
                    counters.exported.fetch_add(n, Ordering::Relaxed);
                    failures = 0;
                }
                Err(why) => {
                    counters.dropped.fetch_add(n, Ordering::Relaxed);
                    failures += 1;
                    // One line for the first failure of a run of them, then every 100th.
                    if failures == 1 || failures.is_multiple_of(100) {
                        tracing::warn!(url = %url, spans = n, failures, "the OTLP collector did not take a batch of spans; dropped: {why}");
                    }
                }
            }
        }
        if let Some(answer) = answer {
            let _ = answer.send(());
        }
        if done {
            return;
        }
    }
}

/// One request, again on a connection error or a status the OTLP specification calls
/// retryable (429, 502, 503, 504), at most three times.
async fn post(client: &reqwest::Client, url: &str, body: String) -> Result<(), String> {
    let mut delay = Duration::from_millis(250);
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        let sent = client.post(url).header("content-type", "application/json").body(body.clone()).send().await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let status = r.status().as_u16();
                last = format!(
                    "HTTP {status}: {}",
                    r.text().await.unwrap_or_default().chars().take(200).collect::<String>()
                );
                if !matches!(status, 429 | 502 | 503 | 504) {
                    return Err(last);
                }
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}
