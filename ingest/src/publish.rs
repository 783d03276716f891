//! Raw records to the raw topics: Avro in the Confluent wire format with the registry's ids,
//! key = venue symbol, through an idempotent producer (batches compressed as
//! `broker.compression` says); also the ingestor's own data-quality minutes (`dq.minute`) and
//! stream silences (`signals`), key = instrument. One task sends everything in arrival order
//! (order matters for book deltas), a wave at a time.

use crate::frame::RawRecord;
use crate::metrics::IngestMetrics;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tickwatch_model::{wire, AvroRecord, QualityMinute, RawBookUpdate, RawReferencePrice, RawTrade, Signal};
use tickwatch_runtime::broker::{AddHeader, BrokerError, Outgoing, ReliableProducer};
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
enum Queued {
    Raw(RawRecord),
    Quality(QualityMinute),
    Signal(Signal),
}

#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Queued>,
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
        self.queue(Queued::Raw(record)).await
    }

    /// Queue a data-quality minute (topic `dq.minute`, key = instrument).
    pub async fn publish_quality(&self, row: QualityMinute) {
        self.queue(Queued::Quality(row)).await
    }

    /// Queue a signal (topic `signals`, key = instrument).
    pub async fn publish_signal(&self, signal: Signal) {
        self.queue(Queued::Signal(signal)).await
    }

    async fn queue(&self, item: Queued) {
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

/// Most records handed to the producer at once.
const MAX_WAVE: usize = 10_000;

/// Sends in waves: whatever queued while the last wave was in flight goes to the producer at
/// once, and the next wave waits for this one's acknowledgements. librdkafka (2.12) lets an
/// idempotent producer have one request in flight per partition as soon as it holds five
/// messages, and while that request is out and the `linger.ms` of the waiting records has
/// passed, its broker thread polls with a zero timeout: records handed over one at a time
/// kept it spinning for most of each round trip (69 % of a core at 5 000 trades/s against
/// Tansu). A wave waits as long as the queue behind such a request would have, and the
/// producer's queue stays empty in between.
async fn send_loop(
    mut rx: mpsc::Receiver<Queued>,
    producer: Arc<ReliableProducer>,
    ids: Ids,
    prefix: String,
    metrics: Arc<IngestMetrics>,
    resends: Arc<AtomicU64>,
) {
    let topics = Topics::new(&prefix);
    let mut items = Vec::new();
    while let Some(item) = rx.recv().await {
        items.push(item);
        while items.len() < MAX_WAVE {
            match rx.try_recv() {
                Ok(item) => items.push(item),
                Err(_) => break,
            }
        }
        let wave: Vec<Prepared> = items.drain(..).map(|item| Prepared::new(item, &ids, &topics)).collect();
        send_wave(&producer, &metrics, &resends, wave).await;
    }
}

/// The prefixed topic names, made once.
struct Topics {
    trades: String,
    depth: String,
    reference: String,
    quality: String,
    signals: String,
}

impl Topics {
    fn new(prefix: &str) -> Topics {
        let t = |name: &str| format!("{prefix}{name}");
        Topics { trades: t(TRADES), depth: t(DEPTH), reference: t(REFERENCE), quality: t(QUALITY), signals: t(SIGNALS) }
    }
}

/// A record ready to send, with its trace span.
struct Prepared<'t> {
    record: Ready<'t>,
    span: Option<Span>,
    /// A resent signal cannot disorder a book (it shares no partition with raw.depth), so it
    /// does not make the connectors rebuild their books.
    counts_as_resend: bool,
}

/// A record as the producer reads it: the topic borrowed from [`Topics`], the key and the
/// dedup key in one buffer, the value in another (three allocations fewer a record than an
/// `OwnedRecord` with its header list).
struct Ready<'t> {
    topic: &'t str,
    /// The key, then the `dedup_key` header's value.
    key_and_dedup: Vec<u8>,
    key_len: usize,
    value: Vec<u8>,
    traceparent: Option<Vec<u8>>,
}

impl Outgoing for Ready<'_> {
    fn topic(&self) -> &str {
        self.topic
    }
    fn partition(&self) -> Option<i32> {
        None
    }
    fn key(&self) -> Option<&[u8]> {
        Some(&self.key_and_dedup[..self.key_len])
    }
    fn payload(&self) -> Option<&[u8]> {
        Some(&self.value)
    }
    fn header_count(&self) -> usize {
        1 + usize::from(self.traceparent.is_some())
    }
    fn headers(&self, add: &mut AddHeader<'_>) {
        add(DEDUP_HEADER.as_bytes(), Some(&self.key_and_dedup[self.key_len..]));
        if let Some(t) = &self.traceparent {
            add(TRACEPARENT.as_bytes(), Some(t));
        }
    }
    fn timestamp_ms(&self) -> Option<i64> {
        None
    }
}

impl<'t> Prepared<'t> {
    fn new(item: Queued, ids: &Ids, topics: &'t Topics) -> Prepared<'t> {
        let (topic, id) = match &item {
            Queued::Raw(RawRecord::Trade(_)) => (&topics.trades, ids.trades),
            Queued::Raw(RawRecord::Book(_)) => (&topics.depth, ids.depth),
            Queued::Raw(RawRecord::Reference(_)) => (&topics.reference, ids.reference),
            Queued::Quality(_) => (&topics.quality, ids.quality),
            Queued::Signal(_) => (&topics.signals, ids.signals),
        };
        let mut value = Vec::with_capacity(256);
        wire::write_header(id, &mut value);
        let encoded = match &item {
            Queued::Raw(RawRecord::Trade(r)) => r.write_avro(&mut value),
            Queued::Raw(RawRecord::Book(r)) => r.write_avro(&mut value),
            Queued::Raw(RawRecord::Reference(r)) => r.write_avro(&mut value),
            Queued::Quality(r) => r.write_avro(&mut value),
            Queued::Signal(r) => r.write_avro(&mut value),
        };
        encoded.expect("the direct codec cannot fail");
        let key = match &item {
            Queued::Raw(r) => r.symbol(),
            Queued::Quality(q) => &q.instrument,
            Queued::Signal(s) => &s.instrument,
        };
        let mut key_and_dedup = Vec::with_capacity(key.len() + 64);
        key_and_dedup.extend_from_slice(key.as_bytes());
        let key_len = key_and_dedup.len();
        {
            use std::io::Write;
            let written = match &item {
                Queued::Raw(r) => {
                    r.write_dedup_key(&mut key_and_dedup);
                    Ok(())
                }
                Queued::Quality(q) => {
                    write!(key_and_dedup, "{}|{}|{}|{}", q.venue, q.instrument, q.channel, q.minute_us)
                }
                Queued::Signal(s) => write!(
                    key_and_dedup,
                    "{}|{}|{}|{}|{}",
                    s.kind,
                    s.venue,
                    s.instrument,
                    s.channel.as_deref().unwrap_or(""),
                    s.at_us
                ),
            };
            written.expect("writing to a Vec cannot fail");
        }
        let span = match &item {
            Queued::Raw(r) => trace_span(r, topic),
            _ => None,
        };
        let traceparent = span.as_ref().map(|s| s.context().header_value().into_bytes());
        let record = Ready { topic, key_and_dedup, key_len, value, traceparent };
        Prepared { record, span, counts_as_resend: !matches!(item, Queued::Signal(_)) }
    }
}

/// Send a wave in order and wait for every acknowledgement. What the broker refused is sent
/// again, in order, through the reliable path (a new producer after a fatal error, as Tansu's
/// fencing of concurrent idempotent producers causes) until it is taken: a raw record is
/// never dropped. A resent record may land after records behind it, so the connectors then
/// publish fresh snapshots ([`Publisher::resends`]) and a reader applying the venue's book
/// rules sees a gap and the snapshot, never a wrong book.
async fn send_wave(producer: &ReliableProducer, metrics: &IngestMetrics, resends: &AtomicU64, wave: Vec<Prepared<'_>>) {
    let (records, rest): (Vec<Ready>, Vec<_>) =
        wave.into_iter().map(|p| (p.record, (p.span, p.counts_as_resend))).unzip();
    let (mut delay, mut whole_again) = (Duration::from_millis(100), false);
    let first_resent = loop {
        match producer.send_in_order(&records).await {
            Ok(_) if whole_again => break Some(0),
            Ok(first_resent) => break first_resent,
            Err(e) => {
                // The reliable path's attempts are spent: the whole wave goes again (what
                // already reached the broker is then there twice; readers dedup by key).
                whole_again = true;
                metrics.publish_error();
                tracing::warn!(records = records.len(), error = %e, retry_in_ms = delay.as_millis() as u64, "the broker refused raw records; sending them again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };
    let resent_from = first_resent.unwrap_or(records.len());
    if rest[resent_from..].iter().any(|(_, counts)| *counts) {
        resends.fetch_add(1, Ordering::Relaxed);
    }
    let mut run = (records[0].topic, 0);
    for r in &records {
        if r.topic != run.0 {
            metrics.published(run.0, run.1);
            run = (r.topic, 0);
        }
        run.1 += 1;
    }
    metrics.published(run.0, run.1);
    for (i, (span, _)) in rest.into_iter().enumerate() {
        end_span(span, i >= resent_from);
    }
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
