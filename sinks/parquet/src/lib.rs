//! The Parquet writer: trades, k-lines, reference prices and confirmed DEX swaps from the
//! broker to S3 as zstd Parquet, one folder per dataset, day, venue and instrument, hourly
//! files named by the offsets they hold, so that nothing is stored twice across restarts and
//! reruns; and the files read back as their records ([`read`]).

pub mod columns;
pub mod config;
pub mod dex;
pub mod files;
pub mod layout;
pub mod read;
pub mod run;
pub mod store;

pub use config::{Dataset, ParquetSinkConfig};
