//! Pool logs to `<prefix>raw.dex`: Avro in the Confluent wire format, key = pool address (a
//! pool's `Sync` and `Swap` stay in order on one partition: the transform prices a V2 swap
//! with the `Sync` before it), the block's time as the record time (the transform's
//! timestamp window judges a backfilled block by its own time), and a dedup header naming
//! the log and its status. Every batch is acknowledged before the checkpoint moves.

use tickwatch_model::{wire, AvroRecord, RawDexLog, SwapStatus};
use tickwatch_runtime::broker::{OwnedRecord, ReliableProducer};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::settings::BrokerSettings;

pub const RAW_DEX: &str = "raw.dex";

#[derive(Debug, thiserror::Error)]
pub enum DexPublishError {
    #[error("registering {subject}: {error}")]
    Registry { subject: String, error: String },
    #[error("broker: {0}")]
    Broker(String),
}

pub fn status_name(s: SwapStatus) -> &'static str {
    match s {
        SwapStatus::Pending => "pending",
        SwapStatus::Confirmed => "confirmed",
        SwapStatus::Retracted => "retracted",
    }
}

pub struct DexPublisher {
    topic: String,
    schema_id: u32,
    producer: ReliableProducer,
}

impl DexPublisher {
    pub async fn new(
        broker: &BrokerSettings,
        registry: &RegistryClient,
        prefix: &str,
    ) -> Result<DexPublisher, DexPublishError> {
        let topic = format!("{prefix}{RAW_DEX}");
        let subject = format!("{topic}-value");
        let schema_id = registry
            .register(&subject, RawDexLog::SCHEMA_JSON)
            .await
            .map_err(|e| DexPublishError::Registry { subject, error: e.to_string() })?;
        let producer = ReliableProducer::new(broker).map_err(|e| DexPublishError::Broker(e.to_string()))?;
        Ok(DexPublisher { topic, schema_id, producer })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Send `logs` in order and wait until the broker has every one.
    pub async fn send(&self, logs: &[RawDexLog]) -> Result<(), DexPublishError> {
        let records: Vec<OwnedRecord> = logs
            .iter()
            .map(|l| {
                let dedup =
                    format!("{}|{}|{}|{}|{}", l.chain_id, l.block_hash, l.log_index, status_name(l.status), l.version);
                let mut value = Vec::with_capacity(512);
                wire::write_header(self.schema_id, &mut value);
                l.write_avro(&mut value).expect("the direct codec cannot fail");
                OwnedRecord {
                    topic: self.topic.clone(),
                    key: Some(l.address.as_bytes().to_vec()),
                    payload: Some(value),
                    headers: vec![(crate::publish::DEDUP_HEADER.as_bytes().to_vec(), Some(dedup.into_bytes()))],
                    timestamp_ms: Some(l.block_time_us.div_euclid(1000)),
                    ..OwnedRecord::default()
                }
            })
            .collect();
        self.producer.send_in_order(&records).await.map(|_| ()).map_err(|e| DexPublishError::Broker(e.to_string()))
    }
}
