//! [`ReliableProducer`]: the one way long-running writers send, one record at a time or a
//! batch in order.

use super::{producer_config, BrokerError};
use crate::settings::BrokerSettings;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Tries per record before a send is reported as failed (a refused record is retried after
/// 200 ms, doubling; a dead producer is replaced at once).
const SEND_ATTEMPTS: u32 = 6;

/// A record to send, owned (a batch outlives the buffers it was read from).
#[derive(Debug, Clone, Default)]
pub struct OwnedRecord {
    pub topic: String,
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The record's timestamp (ms); the producer's clock when `None`.
    pub timestamp_ms: Option<i64>,
}

/// Takes one record header: its key and value.
pub type AddHeader<'f> = dyn FnMut(&[u8], Option<&[u8]>) + 'f;

/// What the producer reads of a record to send. [`OwnedRecord`] is one; a writer that keeps
/// its records in a layout of its own (the transform host keeps the bytes the module wrote)
/// implements it and is sent from there, without first copying each part into an owned one.
pub trait Outgoing {
    fn topic(&self) -> &str;
    fn partition(&self) -> Option<i32>;
    fn key(&self) -> Option<&[u8]>;
    fn payload(&self) -> Option<&[u8]>;
    fn header_count(&self) -> usize;
    /// Hands each header to `add`, in order.
    fn headers(&self, add: &mut AddHeader<'_>);
    /// The record's timestamp (ms); the producer's clock when `None`.
    fn timestamp_ms(&self) -> Option<i64>;
}

impl Outgoing for OwnedRecord {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn partition(&self) -> Option<i32> {
        self.partition
    }
    fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
    fn payload(&self) -> Option<&[u8]> {
        self.payload.as_deref()
    }
    fn header_count(&self) -> usize {
        self.headers.len()
    }
    fn headers(&self, add: &mut AddHeader<'_>) {
        for (k, v) in &self.headers {
            add(k, v.as_deref());
        }
    }
    fn timestamp_ms(&self) -> Option<i64> {
        self.timestamp_ms
    }
}

/// [`ReliableProducer::send_with_headers`]' record, borrowed.
struct OneRecord<'a> {
    topic: &'a str,
    partition: Option<i32>,
    key: Option<&'a [u8]>,
    payload: Option<&'a [u8]>,
    headers: &'a [(Vec<u8>, Option<Vec<u8>>)],
}

impl Outgoing for OneRecord<'_> {
    fn topic(&self) -> &str {
        self.topic
    }
    fn partition(&self) -> Option<i32> {
        self.partition
    }
    fn key(&self) -> Option<&[u8]> {
        self.key
    }
    fn payload(&self) -> Option<&[u8]> {
        self.payload
    }
    fn header_count(&self) -> usize {
        self.headers.len()
    }
    fn headers(&self, add: &mut AddHeader<'_>) {
        for (k, v) in self.headers {
            add(k, v.as_deref());
        }
    }
    fn timestamp_ms(&self) -> Option<i64> {
        None
    }
}

/// Records handed to the producer in order whose acknowledgements are still to be awaited
/// ([`ReliableProducer::enqueue_in_order`]).
pub struct InOrderSend {
    client: Arc<FutureProducer>,
    /// The index of the first record these deliveries are for.
    from: usize,
    deliveries: Vec<rdkafka::producer::DeliveryFuture>,
}

/// An idempotent producer that survives its own fatal errors.
///
/// librdkafka makes an idempotent producer unusable after a fatal error. Tansu was seen
/// answering OutOfOrderSequenceNumber to the registry's producer (sequence 318, its state
/// last changed 7 minutes before), which librdkafka treats as fatal; any broker that loses a
/// producer's state can do the same. Every long-running writer therefore sends through this:
/// on a fatal error it builds a new producer (new producer id, sequences from 0) and sends the
/// record once more. Records are keyed and delivery is at least once, so the retry cannot
/// lose anything, only repeat it.
pub struct ReliableProducer {
    settings: BrokerSettings,
    inner: Mutex<Arc<FutureProducer>>,
    recreated: std::sync::atomic::AtomicU64,
}

impl ReliableProducer {
    pub fn new(settings: &BrokerSettings) -> Result<ReliableProducer, BrokerError> {
        Ok(ReliableProducer {
            inner: Mutex::new(Arc::new(Self::build(settings)?)),
            settings: settings.clone(),
            recreated: Default::default(),
        })
    }

    fn build(settings: &BrokerSettings) -> Result<FutureProducer, BrokerError> {
        producer_config(settings)
            .create()
            .map_err(|source| BrokerError::Client { bootstrap: settings.bootstrap.clone(), source })
    }

    fn current(&self) -> Arc<FutureProducer> {
        self.inner.lock().expect("producer lock").clone()
    }

    /// How many times a fatal error made it build a new producer.
    pub fn recreated(&self) -> u64 {
        self.recreated.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Send one record and wait for the broker's acknowledgement; returns (partition, offset).
    pub async fn send(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: &[u8],
        payload: Option<&[u8]>,
    ) -> Result<(i32, i64), BrokerError> {
        self.send_with_headers(topic, partition, Some(key), payload, &[]).await
    }

    /// [`ReliableProducer::send`] with an optional key and record headers.
    pub async fn send_with_headers(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(i32, i64), BrokerError> {
        let mut attempt = 0;
        loop {
            let producer = self.current();
            let one = OneRecord { topic, partition, key, payload, headers };
            let record = future_record(&one);
            match producer.send(record, Duration::from_secs(30)).await {
                Ok(delivery) => return Ok((delivery.partition, delivery.offset)),
                Err((source, _)) => self.after_failure(&producer, topic, source, &mut attempt).await?,
            }
        }
    }

    /// Send `records` so that each partition receives them in the order given: all are
    /// enqueued before any acknowledgement is awaited (the idempotent producer keeps the
    /// order of what it was handed), and after a failure everything from the first failed
    /// record on is sent again, in order. Concurrent single sends would race to enqueue.
    /// Returns the index of the first record that had to be sent again, if any (from there
    /// on, records may have reached the broker twice or after later ones).
    pub async fn send_in_order<R: Outgoing>(&self, records: &[R]) -> Result<Option<usize>, BrokerError> {
        let pending = self.enqueue_in_order(records).await?;
        self.acknowledged_in_order(pending, records).await
    }

    /// The first half of [`ReliableProducer::send_in_order`]: hand every record to the
    /// producer, in order, without waiting for the broker. The caller may work on while
    /// they travel, then passes the same `records` to
    /// [`ReliableProducer::acknowledged_in_order`]. Nothing may be enqueued for the same
    /// partitions in between, or a resend after a failure would land behind it.
    pub async fn enqueue_in_order<R: Outgoing>(&self, records: &[R]) -> Result<InOrderSend, BrokerError> {
        self.enqueue_from(records, 0).await
    }

    async fn enqueue_from<R: Outgoing>(&self, records: &[R], from: usize) -> Result<InOrderSend, BrokerError> {
        let client = self.current();
        let mut deliveries = Vec::with_capacity(records.len() - from);
        for r in &records[from..] {
            let mut record = future_record(r);
            loop {
                match client.send_result(record) {
                    Ok(delivery) => break deliveries.push(delivery),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((source, _)) => return Err(BrokerError::Produce { topic: r.topic().to_string(), source }),
                }
            }
        }
        Ok(InOrderSend { client, from, deliveries })
    }

    /// The second half of [`ReliableProducer::send_in_order`]: wait for every
    /// acknowledgement of `sent` (enqueued from `records`); after a failure, everything from
    /// the first failed record on is sent again, in order. Returns the index of the first
    /// record sent again, if any.
    pub async fn acknowledged_in_order<R: Outgoing>(
        &self,
        mut sent: InOrderSend,
        records: &[R],
    ) -> Result<Option<usize>, BrokerError> {
        let (mut attempt, mut first_resent) = (0, None::<usize>);
        loop {
            let mut failed = None;
            for (i, delivery) in std::mem::take(&mut sent.deliveries).into_iter().enumerate() {
                // A dropped delivery report (the producer went away) counts as a failure.
                let outcome = match delivery.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err((source, _))) => Err(source),
                    Err(_) => Err(KafkaError::Canceled),
                };
                if let (Err(source), None) = (outcome, &failed) {
                    failed = Some((sent.from + i, source));
                }
            }
            let Some((first, source)) = failed else { return Ok(first_resent) };
            self.after_failure(&sent.client, records[first].topic(), source, &mut attempt).await?;
            first_resent = Some(first_resent.map_or(first, |f| f.min(first)));
            sent = self.enqueue_from(records, first).await?;
        }
    }

    /// What a refused send leads to: the error once the attempts are spent; otherwise a new
    /// producer when this one is dead (or fenced), else a pause before the resend.
    async fn after_failure(
        &self,
        producer: &Arc<FutureProducer>,
        topic: &str,
        source: KafkaError,
        attempt: &mut u32,
    ) -> Result<(), BrokerError> {
        let fatal = producer.client().fatal_error();
        // Tansu also answers these to a healthy producer of another process (its producer
        // ids collide under concurrency); the producer never recovers from them, so they are
        // treated as fatal too.
        let fenced = matches!(
            source.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::OutOfOrderSequenceNumber
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::UnknownProducerId
            )
        );
        *attempt += 1;
        if *attempt > SEND_ATTEMPTS {
            return Err(BrokerError::Produce { topic: topic.to_string(), source });
        }
        if fatal.is_some() || fenced {
            // Concurrent sends fail together: the first to get here replaces the producer,
            // the others resend through its replacement.
            let mut inner = self.inner.lock().expect("producer lock");
            if Arc::ptr_eq(&inner, producer) {
                *inner = Arc::new(Self::build(&self.settings)?);
                self.recreated.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(topic, error = %source, "idempotent producer hit a fatal error; building a new one and resending");
            }
        } else {
            tracing::warn!(topic, error = %source, attempt = *attempt, "the broker refused a record; sending it again");
            tokio::time::sleep(Duration::from_millis(100 << (*attempt).min(5))).await;
        }
        Ok(())
    }

    /// The producer currently in use (tests inject faults through it).
    pub fn client(&self) -> Arc<FutureProducer> {
        self.current()
    }
}

fn future_record<R: Outgoing>(r: &R) -> FutureRecord<'_, [u8], [u8]> {
    let mut record = FutureRecord::<[u8], [u8]>::to(r.topic());
    if let Some(k) = r.key() {
        record = record.key(k);
    }
    if r.header_count() > 0 {
        let mut h = Some(rdkafka::message::OwnedHeaders::new_with_capacity(r.header_count()));
        r.headers(&mut |k, v| {
            let key = String::from_utf8_lossy(k);
            h = h.take().map(|h| h.insert(rdkafka::message::Header { key: &key, value: v }));
        });
        record = record.headers(h.expect("headers are put back after each insert"));
    }
    if let Some(p) = r.partition() {
        record = record.partition(p);
    }
    if let Some(v) = r.payload() {
        record = record.payload(v);
    }
    if let Some(ts) = r.timestamp_ms() {
        record = record.timestamp(ts);
    }
    record
}
