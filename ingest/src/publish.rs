//! Raw records to the raw topics: Avro in the Confluent wire format with the registry's ids,
//! key = venue symbol, through an idempotent zstd producer; also the ingestor's own
//! data-quality minutes (`dq.minute`) and stream silences (`signals`), key = instrument. One
//! task sends everything in arrival order (order matters for book deltas) and keeps many
//! sends in flight.

use crate::frame::RawRecord;
use crate::metrics::IngestMetrics;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tickwatch_model::{wire, AvroRecord, QualityMinute, RawBookUpdate, RawReferencePrice, RawTrade, Signal};
use tickwatch_runtime::broker::{BrokerError, ReliableProducer};
use tickwatch_runtime::registry_client::{RegistryClient, RegistryError};
use tickwatch_runtime::settings::BrokerSettings;
use tickwatch_runtime::trace::{self, Span, SpanKind, TRACEPARENT};
use tokio::sync::mpsc;

pub const TRADES: &str = "raw.trades";
pub const DEPTH: &str = "raw.depth";
pub const REFERENCE: &str = "raw.reference";
pub const QUALITY: &str = "dq.minute";
pub const SIGNALS: &str = "signals";
/// The record header carrying [`RawRecord::dedup_key`].
pub const DEDUP_HEADER: &str = "dedup_key";

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("schema registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
}

/// Where the raw records go; `prefix` is prepended to every topic (tests run side by side).
/// What the sender takes: a raw record, a data-quality minute for `dq.minute`, or a signal.
enum Outgoing {
    Raw(RawRecord),
    Quality(QualityMinute),
    Signal(Signal),
}

#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Outgoing>,
    /// The sending task, awaited by [`Publisher::close`].
    sender: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// Grows each time a record had to be sent again (it may then stand after records that
    /// were queued behind it): connectors rebuild their books from a fresh snapshot so that
    /// readers of `raw.depth` re-anchor after the disorder.
    resends: Arc<AtomicU64>,
}

struct Ids {
    trades: u32,
    depth: u32,
    reference: u32,
    quality: u32,
    signals: u32,
}

impl Publisher {
    /// Register the raw schemas (idempotent) and start the sending task.
    pub async fn start(
        broker: &BrokerSettings,
        registry: &RegistryClient,
        prefix: &str,
        metrics: Arc<IngestMetrics>,
    ) -> Result<Publisher, PublishError> {
        let subject = |t: &str| format!("{prefix}{t}-value");
        let ids = Ids {
            trades: registry.register(&subject(TRADES), RawTrade::SCHEMA_JSON).await?,
            depth: registry.register(&subject(DEPTH), RawBookUpdate::SCHEMA_JSON).await?,
            reference: registry.register(&subject(REFERENCE), RawReferencePrice::SCHEMA_JSON).await?,
            quality: registry.register(&subject(QUALITY), QualityMinute::SCHEMA_JSON).await?,
            signals: registry.register(&subject(SIGNALS), Signal::SCHEMA_JSON).await?,
        };
        let producer = Arc::new(ReliableProducer::new(broker)?);
        // Bounded: a broker slower than the venue slows the readers instead of filling memory.
        let (tx, rx) = mpsc::channel(10_000);
        let resends = Arc::new(AtomicU64::new(0));
        let sender = tokio::spawn(send_loop(rx, producer, ids, prefix.to_string(), metrics, resends.clone()));
        Ok(Publisher { tx, sender: Arc::new(std::sync::Mutex::new(Some(sender))), resends })
    }

    /// How many records had to be sent again so far (see the field's doc).
    pub fn resends(&self) -> u64 {
        self.resends.load(Ordering::Relaxed)
    }

    /// Queue a record; waits only when the queue is full.
    pub async fn publish(&self, record: RawRecord) {
        self.queue(Outgoing::Raw(record)).await
    }

    /// Queue a data-quality minute (topic `dq.minute`, key = instrument).
    pub async fn publish_quality(&self, row: QualityMinute) {
        self.queue(Outgoing::Quality(row)).await
    }

    /// Queue a signal (topic `signals`, key = instrument).
    pub async fn publish_signal(&self, signal: Signal) {
        self.queue(Outgoing::Signal(signal)).await
    }

    async fn queue(&self, item: Outgoing) {
        if self.tx.send(item).await.is_err() {
            tracing::error!("the publisher stopped; a record was not queued");
        }
    }

    /// Send what is queued and wait until the broker has taken all of it (at shutdown, once
    /// every other clone is gone).
    pub async fn close(self) {
        let sender = self.sender.lock().expect("lock").take();
        drop(self.tx);
        if let Some(handle) = sender {
            let _ = handle.await;
        }
    }
}

async fn send_loop(
    mut rx: mpsc::Receiver<Outgoing>,
    producer: Arc<ReliableProducer>,
    ids: Ids,
    prefix: String,
    metrics: Arc<IngestMetrics>,
    resends: Arc<AtomicU64>,
) {
    let mut in_flight = tokio::task::JoinSet::new();
    while let Some(item) = rx.recv().await {
        let (topic, id) = match &item {
            Outgoing::Raw(RawRecord::Trade(_)) => (TRADES, ids.trades),
            Outgoing::Raw(RawRecord::Book(_)) => (DEPTH, ids.depth),
            Outgoing::Raw(RawRecord::Reference(_)) => (REFERENCE, ids.reference),
            Outgoing::Quality(_) => (QUALITY, ids.quality),
            Outgoing::Signal(_) => (SIGNALS, ids.signals),
        };
        let mut value = Vec::with_capacity(256);
        wire::write_header(id, &mut value);
        let encoded = match &item {
            Outgoing::Raw(RawRecord::Trade(r)) => r.write_avro(&mut value),
            Outgoing::Raw(RawRecord::Book(r)) => r.write_avro(&mut value),
            Outgoing::Raw(RawRecord::Reference(r)) => r.write_avro(&mut value),
            Outgoing::Quality(r) => r.write_avro(&mut value),
            Outgoing::Signal(r) => r.write_avro(&mut value),
        };
        encoded.expect("the direct codec cannot fail");
        let (key, dedup) = match &item {
            Outgoing::Raw(r) => (r.symbol().as_bytes().to_vec(), r.dedup_key().into_bytes()),
            Outgoing::Quality(q) => (
                q.instrument.as_bytes().to_vec(),
                format!("{}|{}|{}|{}", q.venue, q.instrument, q.channel, q.minute_us).into_bytes(),
            ),
            Outgoing::Signal(s) => (
                s.instrument.as_bytes().to_vec(),
                format!("{}|{}|{}|{}|{}", s.kind, s.venue, s.instrument, s.channel.as_deref().unwrap_or(""), s.at_us)
                    .into_bytes(),
            ),
        };
        // A resent signal cannot disorder a book (it shares no partition with raw.depth), so
        // it does not make the connectors rebuild their books.
        let counts_as_resend = !matches!(item, Outgoing::Signal(_));
        let topic = format!("{prefix}{topic}");
        let span = match &item {
            Outgoing::Raw(r) => trace_span(r, &topic),
            _ => None,
        };
        let traceparent = span.as_ref().map(|s| s.context().header_value());
        let mut headers = OwnedHeaders::new().insert(Header { key: DEDUP_HEADER, value: Some(&dedup) });
        if let Some(tp) = &traceparent {
            headers = headers.insert(Header { key: TRACEPARENT, value: Some(tp) });
        }
        let headers_again = ResendHeaders { dedup, traceparent };
        // Enqueued here, in order; the acknowledgement is awaited in the background.
        let delivery =
            producer.client().send_result(FutureRecord::to(&topic).key(&key).payload(&value).headers(headers));
        let (producer, metrics) = (producer.clone(), metrics.clone());
        let resends = counts_as_resend.then(|| resends.clone());
        let count_resend = move || {
            if let Some(r) = &resends {
                r.fetch_add(1, Ordering::Relaxed);
            }
        };
        match delivery {
            Ok(future) => {
                in_flight.spawn(async move {
                    let resent = match tokio::time::timeout(Duration::from_secs(60), future).await {
                        Ok(Ok(Ok(_))) => {
                            metrics.published(&topic);
                            false
                        }
                        _ => {
                            count_resend();
                            resend(&producer, &metrics, &topic, &key, &value, headers_again).await;
                            true
                        }
                    };
                    end_span(span, resent);
                });
            }
            Err(_) => {
                count_resend();
                in_flight.spawn(async move {
                    resend(&producer, &metrics, &topic, &key, &value, headers_again).await;
                    end_span(span, true);
                });
            }
        }
        while in_flight.len() > 5_000 {
            in_flight.join_next().await;
        }
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
}

/// The headers a record is sent again with.
struct ResendHeaders {
    dedup: Vec<u8>,
    traceparent: Option<String>,
}

/// A sampled raw record's trace: its root span runs from the frame's receipt to the broker's
/// acknowledgement.
fn trace_span(record: &RawRecord, topic: &str) -> Option<Span> {
    let context = trace::sample_root()?;
    let received_ns = u64::try_from(record.receive_time_us()).unwrap_or_default() * 1000;
    let mut span = Span::start_at(format!("send {topic}"), SpanKind::Producer, context, None, received_ns);
    span.attr("messaging.system", "kafka")
        .attr("messaging.destination.name", topic)
        .attr("tickwatch.venue", record.venue())
        .attr("tickwatch.symbol", record.symbol())
        .attr("tickwatch.dedup_key", record.dedup_key());
    Some(span)
}

fn end_span(span: Option<Span>, resent: bool) {
    if let Some(mut span) = span {
        if resent {
            span.attr("tickwatch.resent", 1i64);
        }
        span.end();
    }
}

/// A refused or lost send goes again through the reliable path (which builds a new producer
/// after a fatal error, as Tansu's fencing of concurrent idempotent producers causes) until
/// the broker takes it: a raw record is never dropped. It may then land after records queued
/// behind it; the connectors then publish fresh snapshots ([`Publisher::resends`]), and a
/// reader applying the venue's book rules sees a gap and the snapshot, never a wrong book.
async fn resend(
    producer: &ReliableProducer,
    metrics: &IngestMetrics,
    topic: &str,
    key: &[u8],
    value: &[u8],
    again: ResendHeaders,
) {
    let mut delay = Duration::from_millis(100);
    let mut headers = vec![(DEDUP_HEADER.as_bytes().to_vec(), Some(again.dedup))];
    if let Some(tp) = again.traceparent {
        headers.push((TRACEPARENT.as_bytes().to_vec(), Some(tp.into_bytes())));
    }
    loop {
        match producer.send_with_headers(topic, None, Some(key), Some(value), &headers).await {
            Ok(_) => return metrics.published(topic),
            Err(e) => {
                metrics.publish_error();
                tracing::warn!(topic, error = %e, retry_in_ms = delay.as_millis() as u64, "the broker refused a raw record; sending it again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
