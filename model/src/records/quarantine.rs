use crate::avro::avro_record;
use crate::codec::avro_fields;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

/// A refused record, kept whole with the reason (topics `<topic>.quarantine`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    #[serde(with = "serde_bytes")]
    pub original_key: Option<Vec<u8>>,
    #[serde(with = "serde_bytes")]
    pub original_value: Vec<u8>,
    pub reason: String,
    pub rule: String,
    pub detail: String,
    pub venue: Option<String>,
    pub instrument: Option<String>,
    pub quarantined_at_us: UnixMicros,
}
avro_fields!(QuarantineRecord {
    source_topic,
    source_partition,
    source_offset,
    original_key,
    original_value,
    reason,
    rule,
    detail,
    venue,
    instrument,
    quarantined_at_us
});
avro_record!(QuarantineRecord, "QuarantineRecord", "quarantine_record.avsc");
