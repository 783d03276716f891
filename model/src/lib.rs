//! tickwatch's shared model: record types, canonical instrument ids, exact decimals, the
//! Avro contract and the Confluent wire format. No I/O, so it builds for `wasm32-wasip1`
//! and runs inside the in-broker transforms unchanged.

pub mod avro;
pub mod catalog;
pub mod codec;
pub mod decimal;
pub mod hex;
pub mod instrument;
pub mod notional;
pub mod records;
pub mod symbols;
pub mod time;
pub mod wire;

pub use avro::{AvroError, AvroRecord};
pub use decimal::Decimal;
pub use instrument::{InstrumentId, InstrumentKind};
pub use notional::Notional;
pub use records::*;
