//! A Confluent-compatible Schema Registry for machines without one.
//!
//! Production uses Redpanda's built-in registry; this one serves the same REST API for the
//! local stack, keeps its schemas in a compacted `_schemas` topic on whatever Kafka-API
//! broker it is pointed at (as Confluent's and Karapace do), and checks compatibility with
//! `apache-avro`'s resolution rules. Ids survive restarts because they are read back from
//! the topic.

pub mod compat;
pub mod error;
pub mod http;
pub mod log;
pub mod service;
pub mod state;

use std::sync::Arc;
use std::time::Duration;
use tickwatch_runtime::settings::{BrokerSettings, RegistrySettings};

/// How long start-up may spend reading `_schemas` back. Tansu over S3 serves about one stored
/// batch per fetch (~35 ms each), so a log of 10 000 registrations takes about 6 minutes.
pub const REPLAY_TIMEOUT: Duration = Duration::from_secs(900);

/// Open the log, rebuild the state and serve HTTP until `shutdown` resolves.
pub async fn serve(
    broker: &BrokerSettings,
    registry: &RegistrySettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let log = log::SchemaLog::open(broker, &registry.topic).await?;
    let service = Arc::new(service::Registry::open(log, REPLAY_TIMEOUT).await?);
    let listener = tokio::net::TcpListener::bind(&registry.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: registry.listen.clone(), source })?;
    tracing::info!(listen = %registry.listen, topic = %registry.topic, "schema registry serving");
    axum::serve(listener, http::router(service))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServeError::Bind { addr: registry.listen.clone(), source })?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Log(#[from] log::LogError),
    #[error("cannot listen on {addr}: {source}; choose another registry.listen")]
    Bind { addr: String, source: std::io::Error },
}
