//! The ClickHouse writer: records of the clean and derived topics into the hot tables of
//! `schemas/clickhouse/`, in RowBinary batches, at least once, with no duplicate after `FINAL`.

pub mod batch;
pub mod config;
pub mod derived_rows;
pub mod dex_rows;
pub mod rows;
pub mod run;

pub use config::{ClickHouseSinkConfig, TableKind};
