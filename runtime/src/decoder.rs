//! Records in the Confluent wire format, decoded with whatever registered writer schema they
//! carry. Consumers (the window builder, the ClickHouse and Parquet writers) share this so that
//! a producer on an older or newer compatible schema never stops them.

use crate::registry_client::{RegistryClient, RegistryError};
use apache_avro::Schema;
use rdkafka::message::Message;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};
use tickwatch_model::{wire, AvroRecord, QuarantineRecord};

/// How a record written with one schema id is read.
enum Reading {
    /// Our own schema: the direct codec.
    Own,
    /// Another compatible writer: resolved to ours.
    Writer(Arc<Schema>),
}

/// Decodes one record type, caching per schema id how to read it.
pub struct RecordDecoder<T> {
    readings: HashMap<u32, Reading>,
    record: PhantomData<fn() -> T>,
}

impl<T: AvroRecord> Default for RecordDecoder<T> {
    fn default() -> Self {
        RecordDecoder { readings: HashMap::new(), record: PhantomData }
    }
}

impl<T: AvroRecord> RecordDecoder<T> {
    /// Decode a framed record. An `Err` is a bad record (unframed, unknown schema id, not this
    /// record type): the caller quarantines it. An unreachable registry is not the record's
    /// fault: this waits for the registry (one warning a second) instead.
    pub fn decode(
        &mut self,
        payload: &[u8],
        registry: &RegistryClient,
        runtime: &tokio::runtime::Handle,
    ) -> Result<T, String> {
        let (id, datum) = wire::unframe(payload).map_err(|e| e.to_string())?;
        let reading = match self.readings.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let schema = fetch(id, registry, runtime)?;
                e.insert(if T::is_own_schema(&schema) { Reading::Own } else { Reading::Writer(schema) })
            }
        };
        match reading {
            Reading::Own => T::from_avro(datum),
            Reading::Writer(schema) => T::from_avro_with_writer(datum, schema),
        }
        .map_err(|e| e.to_string())
    }
}

fn fetch(id: u32, registry: &RegistryClient, runtime: &tokio::runtime::Handle) -> Result<Arc<Schema>, String> {
    loop {
        match runtime.block_on(registry.schema(id)) {
            Ok(schema) => return Ok(schema),
            // An id the registry does not know, or not Avro: the record is bad.
            Err(err) if err.error_code() == Some(40403) || matches!(err, RegistryError::BadSchema { .. }) => {
                return Err(format!("schema {id}: {err}"))
            }
            Err(err) => {
                tracing::warn!(id, error = %err, "schema registry unavailable; retrying in 1 s");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// The quarantine record of a consumed message a stage refuses: its place, original key and
/// bytes, the reason and the stage's `rule`, stamped now. Venue and instrument are left for
/// the caller, who knows them when the record could be read.
pub fn quarantined(msg: &impl Message, reason: &str, rule: &str, detail: String) -> QuarantineRecord {
    QuarantineRecord {
        source_topic: msg.topic().into(),
        source_partition: msg.partition(),
        source_offset: msg.offset(),
        original_key: msg.key().map(<[u8]>::to_vec),
        original_value: msg.payload().unwrap_or_default().to_vec(),
        reason: reason.into(),
        rule: rule.into(),
        detail,
        venue: None,
        instrument: None,
        quarantined_at_us: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64),
    }
}
