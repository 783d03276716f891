//! Kafka-API clients, and every broker-specific workaround in one place.
//!
//! The suite runs on Tansu and, for the features Tansu gets wrong, on noida-db; production
//! runs on Redpanda. Code elsewhere asks [`BrokerFlavor`] what it may rely on instead of
//! checking broker names itself.

use crate::settings::BrokerSettings;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use std::time::Duration;

/// Which implementation of the Kafka API answers at the bootstrap address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BrokerFlavor {
    #[default]
    Redpanda,
    Kafka,
    /// Tansu (the local suite's broker).
    Tansu,
    /// noida-db's Kafka emulator (the local suite's second broker).
    Noida,
}

impl BrokerFlavor {
    /// ListOffsets answers the real high watermark. Tansu's does not, so positions and lag
    /// are taken from the high watermark carried by fetch responses instead.
    pub fn list_offsets_high_watermark_is_exact(self) -> bool {
        !matches!(self, BrokerFlavor::Tansu)
    }

    /// Offsets-for-times uses the record timestamps. Tansu answers by storage write time.
    pub fn offsets_for_times_uses_record_time(self) -> bool {
        !matches!(self, BrokerFlavor::Tansu)
    }

    /// `isolation.level=read_committed` hides aborted transactional records. Tansu shows them.
    pub fn read_committed_hides_aborted(self) -> bool {
        !matches!(self, BrokerFlavor::Tansu)
    }

    /// A consumer-group member that died without leaving is evicted after the session
    /// timeout. noida-db never evicts it, so takeover-after-crash cannot be tested there.
    pub fn evicts_dead_group_members(self) -> bool {
        !matches!(self, BrokerFlavor::Noida)
    }

    /// Topics appear on first produce. Neither local broker does it, and production
    /// clusters usually forbid it, so tickwatch always creates its topics explicitly.
    pub fn auto_creates_topics(self) -> bool {
        false
    }
}

/// Base client settings shared by producers, consumers and admin clients.
pub fn client_config(settings: &BrokerSettings) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &settings.bootstrap)
        .set("client.id", &settings.client_id)
        // Local brokers advertise 127.0.0.1; IPv6 lookups of `localhost` only slow things down.
        .set("broker.address.family", "v4")
        .set("socket.keepalive.enable", "true");
    cfg
}

/// An idempotent, zstd-compressing producer configuration: acks from all replicas, no
/// reordering on retry, so a retried batch never duplicates or swaps records.
pub fn producer_config(settings: &BrokerSettings) -> ClientConfig {
    let mut cfg = client_config(settings);
    cfg.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "zstd")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
    cfg
}

/// A consumer-group member that commits by hand, after its output is acknowledged.
pub fn consumer_config(settings: &BrokerSettings, group: &str) -> ClientConfig {
    let mut cfg = client_config(settings);
    cfg.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set(
            "isolation.level",
            if settings.flavor.read_committed_hides_aborted() { "read_committed" } else { "read_uncommitted" },
        );
    cfg
}

/// A consumer error worth waiting out rather than stopping for: a subscribed topic that is
/// not there (yet), or brokers briefly unreachable. The caller logs it and polls again.
pub fn transient(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
        )
    )
}

/// Poll once: a message, or nothing (nothing came, or a transient error was logged and
/// waited out), or an error worth stopping for. `who` names the stage in the log.
pub fn poll_message<'a>(
    consumer: &'a BaseConsumer,
    timeout: Duration,
    who: &str,
) -> Result<Option<BorrowedMessage<'a>>, KafkaError> {
    match consumer.poll(timeout) {
        None => Ok(None),
        Some(Ok(m)) => {
            observe(consumer, &m);
            Ok(Some(m))
        }
        Some(Err(e)) if transient(&e) => {
            tracing::warn!(error = %e, "{who}: waiting for the broker");
            std::thread::sleep(Duration::from_millis(500));
            Ok(None)
        }
        Some(Err(e)) => Err(e),
    }
}

/// Count a record read and keep its partition's lag (`metrics::StageMetrics::consumed`):
/// the high watermark is the one the consumer cached from its last fetch response.
pub fn observe(consumer: &BaseConsumer, msg: &BorrowedMessage<'_>) {
    let (topic, partition) = (msg.topic(), msg.partition());
    crate::metrics::stage_metrics().consumed(
        topic,
        partition,
        msg.offset(),
        cached_high_watermark(consumer, topic, partition),
    );
}

/// The partition's high watermark as librdkafka cached it from the last fetch response
/// (`rd_kafka_get_watermark_offsets`: no request; rdkafka-rs wraps only the querying kind).
fn cached_high_watermark(consumer: &BaseConsumer, topic: &str, partition: i32) -> Option<i64> {
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer lives as long as `consumer`; the topic is a NUL-terminated
    // string that outlives the call; low and high point to live i64s the call writes.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    if err != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || high < 0 {
        tracing::debug!(?err, low, high, partition, "no cached high watermark");
        return None;
    }
    Some(high)
}

/// Commit, per topic and partition, the next offset to read. A refusal (a rebalance took the
/// partition away) is logged, not fatal: the partition's new owner reads again from the last
/// commit, and the sinks' tables and files keep each record once.
pub fn commit_positions<'a>(consumer: &BaseConsumer, positions: impl IntoIterator<Item = (&'a str, i32, i64)>) {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, next) in positions {
        let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(next));
    }
    if tpl.count() == 0 {
        return;
    }
    if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
        tracing::warn!(error = %e, "commit refused (a rebalance?); the partition's new owner reads again from the last commit");
    }
}

/// What a topic is: the one declaration that `tickwatch topics create` and `rpk/` follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication: i32,
    /// Kafka topic configs (`cleanup.policy`, `retention.ms`, `compression.type`, ...).
    pub configs: Vec<(String, String)>,
}

/// Tries per record before a send is reported as failed (a refused record is retried after
/// 200 ms, doubling; a dead producer is replaced at once).
const SEND_ATTEMPTS: u32 = 6;

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
    inner: std::sync::Mutex<std::sync::Arc<FutureProducer>>,
    recreated: std::sync::atomic::AtomicU64,
}

impl ReliableProducer {
    pub fn new(settings: &BrokerSettings) -> Result<ReliableProducer, BrokerError> {
        Ok(ReliableProducer {
            inner: std::sync::Mutex::new(std::sync::Arc::new(Self::build(settings)?)),
            settings: settings.clone(),
            recreated: Default::default(),
        })
    }

    fn build(settings: &BrokerSettings) -> Result<FutureProducer, BrokerError> {
        producer_config(settings)
            .create()
            .map_err(|source| BrokerError::Client { bootstrap: settings.bootstrap.clone(), source })
    }

    fn current(&self) -> std::sync::Arc<FutureProducer> {
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
            let mut record = FutureRecord::<[u8], [u8]>::to(topic);
            if let Some(k) = key {
                record = record.key(k);
            }
            if !headers.is_empty() {
                let mut h = rdkafka::message::OwnedHeaders::new_with_capacity(headers.len());
                for (k, v) in headers {
                    let key = String::from_utf8_lossy(k);
                    h = h.insert(rdkafka::message::Header { key: &key, value: v.as_deref() });
                }
                record = record.headers(h);
            }
            if let Some(p) = partition {
                record = record.partition(p);
            }
            if let Some(v) = payload {
                record = record.payload(v);
            }
            match producer.send(record, Duration::from_secs(30)).await {
                Ok(delivery) => return Ok((delivery.partition, delivery.offset)),
                Err((source, _)) => {
                    let fatal = producer.client().fatal_error();
                    // Tansu also answers these to a healthy producer of another process (its
                    // producer ids collide under concurrency); the producer never recovers
                    // from them, so they are treated as fatal too.
                    let fenced = matches!(
                        source.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::ProducerFenced
                                | RDKafkaErrorCode::OutOfOrderSequenceNumber
                                | RDKafkaErrorCode::InvalidProducerEpoch
                                | RDKafkaErrorCode::UnknownProducerId
                        )
                    );
                    attempt += 1;
                    if attempt > SEND_ATTEMPTS {
                        return Err(BrokerError::Produce { topic: topic.to_string(), source });
                    }
                    if fatal.is_some() || fenced {
                        // Concurrent sends fail together: the first to get here replaces the
                        // producer, the others resend through its replacement.
                        let mut inner = self.inner.lock().expect("producer lock");
                        if std::sync::Arc::ptr_eq(&inner, &producer) {
                            *inner = std::sync::Arc::new(Self::build(&self.settings)?);
                            self.recreated.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            tracing::warn!(topic, error = %source, "idempotent producer hit a fatal error; building a new one and resending");
                        }
                    } else {
                        tracing::warn!(topic, error = %source, attempt, "the broker refused a record; sending it again");
                        tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
                    }
                }
            }
        }
    }

    /// The producer currently in use (tests inject faults through it).
    pub fn client(&self) -> std::sync::Arc<FutureProducer> {
        self.current()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("producing to {topic} failed: {source}")]
    Produce { topic: String, source: KafkaError },
    #[error("cannot create a Kafka client for {bootstrap}: {source}")]
    Client { bootstrap: String, source: KafkaError },
    #[error("creating topic {topic} failed: {code:?}")]
    CreateTopic { topic: String, code: RDKafkaErrorCode },
    #[error("broker at {bootstrap} did not answer: {source}")]
    Unreachable { bootstrap: String, source: KafkaError },
}

/// Create the topics that do not exist yet. Returns the names it created.
pub async fn create_topics(settings: &BrokerSettings, specs: &[TopicSpec]) -> Result<Vec<String>, BrokerError> {
    let admin: AdminClient<DefaultClientContext> = client_config(settings)
        .create()
        .map_err(|source| BrokerError::Client { bootstrap: settings.bootstrap.clone(), source })?;
    let new_topics: Vec<NewTopic> = specs
        .iter()
        .map(|s| {
            let mut t = NewTopic::new(&s.name, s.partitions, TopicReplication::Fixed(s.replication));
            for (k, v) in &s.configs {
                t = t.set(k, v);
            }
            t
        })
        .collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(new_topics.iter(), &opts)
        .await
        .map_err(|source| BrokerError::Unreachable { bootstrap: settings.bootstrap.clone(), source })?;
    let mut created = Vec::new();
    for r in results {
        match r {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(BrokerError::CreateTopic { topic, code }),
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quirks_are_per_flavor() {
        assert!(!BrokerFlavor::Tansu.offsets_for_times_uses_record_time());
        assert!(BrokerFlavor::Noida.offsets_for_times_uses_record_time());
        assert!(!BrokerFlavor::Noida.evicts_dead_group_members());
        assert!(BrokerFlavor::Redpanda.read_committed_hides_aborted());
        let s = BrokerSettings { bootstrap: "127.0.0.1:1".into(), flavor: BrokerFlavor::Tansu, client_id: "t".into() };
        assert_eq!(consumer_config(&s, "g").get("isolation.level"), Some("read_uncommitted"));
        assert_eq!(producer_config(&s).get("enable.idempotence"), Some("true"));
    }
}
