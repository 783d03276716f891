use crate::avro::avro_record;
use crate::codec::{avro_enum, avro_fields};
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlertSeverity {
    P1,
    P2,
    P3,
}
avro_enum!(AlertSeverity, P1, P2, P3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlertState {
    Firing,
    Resolved,
}
avro_enum!(AlertState, Firing, Resolved);

/// An alert firing or resolving (topic `alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub fingerprint: String,
    pub rule: String,
    pub severity: AlertSeverity,
    pub state: AlertState,
    pub venue: Option<String>,
    pub instrument: Option<String>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub summary: String,
    pub labels: BTreeMap<String, String>,
    pub started_at_us: UnixMicros,
    pub emitted_at_us: UnixMicros,
}
avro_fields!(Alert {
    fingerprint,
    rule,
    severity,
    state,
    venue,
    instrument,
    value,
    threshold,
    summary,
    labels,
    started_at_us,
    emitted_at_us
});
avro_record!(Alert, "Alert", "alert.avsc");
