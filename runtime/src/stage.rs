//! What can stop a consumer-group stage (analytics, alert engine, notifier): the broker, the
//! Schema Registry, the Redis state, or its configuration. Transient broker trouble does not
//! stop it (see `broker::poll_message`).

use crate::broker::BrokerError;
use crate::registry_client::RegistryError;
use crate::state::StateError;
use crate::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
    #[error("broker: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("schema registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Config(#[from] ConfigError),
}
