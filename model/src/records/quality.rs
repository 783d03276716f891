use crate::avro::avro_record;
use crate::codec::avro_fields;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

/// Data-quality counters of one venue/instrument/channel over one minute (topic `dq.minute`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityMinute {
    pub venue: String,
    pub instrument: String,
    pub channel: String,
    pub minute_us: UnixMicros,
    pub messages: i64,
    pub gaps: i64,
    pub lost_messages: Option<i64>,
    pub out_of_order: i64,
    pub duplicates: i64,
    pub reconnects: i64,
    pub resyncs: i64,
    pub quarantined: i64,
    pub max_silence_ms: i64,
    pub source_lag_p95_ms: Option<f64>,
}
avro_fields!(QualityMinute {
    venue,
    instrument,
    channel,
    minute_us,
    messages,
    gaps,
    lost_messages,
    out_of_order,
    duplicates,
    reconnects,
    resyncs,
    quarantined,
    max_silence_ms,
    source_lag_p95_ms
});
avro_record!(QualityMinute, "QualityMinute", "quality_minute.avsc");
