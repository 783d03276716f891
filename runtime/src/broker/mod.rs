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
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use std::time::Duration;

mod producer;
pub use producer::{AddHeader, InOrderSend, Outgoing, OwnedRecord, ReliableProducer};

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

/// An idempotent producer configuration: acks from all replicas, no reordering on retry, so a
/// retried batch never duplicates or swaps records; batches compressed as `broker.compression`
/// says.
pub fn producer_config(settings: &BrokerSettings) -> ClientConfig {
    let mut cfg = client_config(settings);
    cfg.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", settings.compression.as_str())
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
        // See `BrokerSettings::fetch_wait_ms` for why it is a setting.
        .set("fetch.wait.max.ms", settings.fetch_wait_ms.to_string())
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
        let s = BrokerSettings {
            bootstrap: "127.0.0.1:1".into(),
            flavor: BrokerFlavor::Tansu,
            client_id: "t".into(),
            fetch_wait_ms: 500,
            compression: Default::default(),
        };
        assert_eq!(consumer_config(&s, "g").get("isolation.level"), Some("read_uncommitted"));
        assert_eq!(producer_config(&s).get("enable.idempotence"), Some("true"));
        assert_eq!(consumer_config(&s, "g").get("fetch.wait.max.ms"), Some("500"));
        assert_eq!(producer_config(&s).get("compression.type"), Some("zstd"));
        let quick = BrokerSettings { fetch_wait_ms: 20, compression: crate::settings::Compression::Lz4, ..s };
        assert_eq!(consumer_config(&quick, "g").get("fetch.wait.max.ms"), Some("20"));
        assert_eq!(producer_config(&quick).get("compression.type"), Some("lz4"));
    }
}
