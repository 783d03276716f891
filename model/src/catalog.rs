//! Every Avro schema of the contract, by record name. Topic declarations name their value
//! schema by record name; registration and the transforms look it up here.

use crate::avro::AvroRecord;
use crate::records::*;

/// One entry of the contract.
#[derive(Debug, Clone, Copy)]
pub struct SchemaEntry {
    /// Record name, e.g. `Trade`.
    pub name: &'static str,
    /// File name in `schemas/avro/`.
    pub file: &'static str,
    /// The `.avsc` text.
    pub json: &'static str,
}

macro_rules! entries {
    ($($ty:ty),* $(,)?) => {
        &[$(SchemaEntry { name: <$ty as AvroRecord>::NAME, file: <$ty as AvroRecord>::FILE, json: <$ty as AvroRecord>::SCHEMA_JSON }),*]
    };
}

/// All record schemas of the pipeline.
pub const SCHEMAS: &[SchemaEntry] = entries![
    RawTrade,
    Trade,
    RawBookUpdate,
    BookUpdate,
    RawReferencePrice,
    ReferencePrice,
    RawDexLog,
    DexSwap,
    Kline,
    BookTop,
    Alert,
    QuarantineRecord,
    QualityMinute,
    Signal,
    SmoothPrice,
];

/// The schema entry for a record name.
pub fn by_name(name: &str) -> Option<&'static SchemaEntry> {
    SCHEMAS.iter().find(|e| e.name == name)
}
