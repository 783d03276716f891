//! What every tickwatch stage shares at run time: settings, topic declarations, Kafka-API
//! clients (with each broker's quirks in one place), the Schema Registry client and ClickHouse
//! over HTTP with its migrations.

pub mod broker;
pub mod clickhouse;
pub mod config_error;
pub mod decoder;
pub mod hot_book;
pub mod memory;
pub mod metrics;
pub mod outage;
pub mod produce;
pub mod registry_client;
pub mod settings;
pub mod stage;
pub mod state;
pub mod topics;
pub mod trace;
pub mod venues;

pub use config_error::ConfigError;
pub use settings::Settings;
