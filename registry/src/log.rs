//! The `_schemas` topic: the registry's only storage. Every change is produced (and
//! acknowledged) before it counts; at start-up the whole topic is read back.

use crate::state::LogKey;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::settings::BrokerSettings;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("Kafka client error on {topic}: {source}")]
    Kafka { topic: String, source: rdkafka::error::KafkaError },
    #[error(transparent)]
    Broker(#[from] broker::BrokerError),
    #[error(
        "reading {topic} back did not reach the start-up marker within {secs} s; is the broker at {bootstrap} healthy?"
    )]
    ReplayTimeout { topic: String, secs: u64, bootstrap: String },
}

pub struct SchemaLog {
    topic: String,
    producer: ReliableProducer,
    settings: BrokerSettings,
}

/// The log as read back at start-up.
pub struct Replay {
    pub records: Vec<LogRecord>,
    /// Records whose key is not a registry key (skipped, logged).
    pub skipped: u64,
}

/// One record read back from the log.
pub struct LogRecord {
    pub key: LogKey,
    pub value: Option<Vec<u8>>,
}

impl SchemaLog {
    /// Connect, creating the compacted single-partition topic if it is missing.
    pub async fn open(settings: &BrokerSettings, topic: &str) -> Result<SchemaLog, LogError> {
        let spec = TopicSpec {
            name: topic.to_string(),
            partitions: 1,
            replication: 1,
            configs: vec![("cleanup.policy".into(), "compact".into()), ("retention.ms".into(), "-1".into())],
        };
        broker::create_topics(settings, &[spec]).await?;
        let producer = ReliableProducer::new(settings)?;
        Ok(SchemaLog { topic: topic.to_string(), producer, settings: settings.clone() })
    }

    /// Append one record and wait for the broker's acknowledgement.
    pub async fn append(&self, key: &LogKey, value: Option<&[u8]>) -> Result<(), LogError> {
        let key_bytes = serde_json::to_vec(key).expect("log keys serialise");
        self.producer.send(&self.topic, Some(0), &key_bytes, value).await?;
        Ok(())
    }

    /// The producer (tests inject faults through it).
    pub fn producer(&self) -> &ReliableProducer {
        &self.producer
    }

    /// Read the whole log from the start. A marker with a fresh nonce is appended first and
    /// reading stops when it comes back, so nothing written before start-up is missed even
    /// on brokers whose ListOffsets high watermark cannot be trusted (Tansu).
    pub async fn replay(&self, timeout: Duration) -> Result<Replay, LogError> {
        let nonce = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now());
        self.append(&LogKey::Noop { magic: 0 }, Some(nonce.as_bytes())).await?;
        let kafka = |source| LogError::Kafka { topic: self.topic.clone(), source };
        let consumer: BaseConsumer = broker::client_config(&self.settings)
            .set("group.id", "tickwatch-registry-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .create()
            .map_err(kafka)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&self.topic, 0, Offset::Beginning).map_err(kafka)?;
        consumer.assign(&tpl).map_err(kafka)?;
        let topic = self.topic.clone();
        let deadline = Instant::now() + timeout;
        let bootstrap = self.settings.bootstrap.clone();
        // The consumer is blocking; keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            let mut records = Vec::new();
            let mut skipped = 0u64;
            let mut next_report = Instant::now() + Duration::from_secs(10);
            loop {
                if Instant::now() > next_report {
                    tracing::info!(topic = %topic, records = records.len(), "still reading the registry log back");
                    next_report += Duration::from_secs(10);
                }
                if Instant::now() > deadline {
                    return Err(LogError::ReplayTimeout { topic, secs: timeout.as_secs(), bootstrap });
                }
                let Some(msg) = consumer.poll(Duration::from_millis(200)) else { continue };
                let msg = msg.map_err(|source| LogError::Kafka { topic: topic.clone(), source })?;
                let key: LogKey = match serde_json::from_slice(msg.key().unwrap_or_default()) {
                    Ok(k) => k,
                    Err(e) => {
                        // Someone else wrote to the topic: keep going, say where.
                        tracing::warn!(topic = %topic, offset = msg.offset(), error = %e, "skipping a record that is not a registry record");
                        skipped += 1;
                        continue;
                    }
                };
                if key == (LogKey::Noop { magic: 0 }) && msg.payload() == Some(nonce.as_bytes()) {
                    return Ok(Replay { records, skipped });
                }
                records.push(LogRecord { key, value: msg.payload().map(<[u8]>::to_vec) });
            }
        })
        .await
        .expect("replay task does not panic")
    }
}
