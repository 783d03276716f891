//! `tickwatch.yaml`: where the servers are. Every field is documented in
//! `config/tickwatch.yaml`, the sample file.

use crate::broker::BrokerFlavor;
use crate::config_error::{check_host_ports, check_http_url, load_yaml, parse_yaml, ConfigError};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub broker: BrokerSettings,
    pub registry: RegistrySettings,
    pub clickhouse: ClickHouseSettings,
    pub s3: S3Settings,
    pub redis: RedisSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub files: FileSettings,
    #[serde(default)]
    pub otel: OtelSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSettings {
    /// Kafka bootstrap servers, `host:port[,host:port]`.
    pub bootstrap: String,
    /// Which broker implementation answers there; selects the workarounds in `broker::quirks`.
    #[serde(default)]
    pub flavor: BrokerFlavor,
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// How long the broker may hold a consumer's fetch that finds nothing new
    /// (librdkafka `fetch.wait.max.ms`).
    #[serde(default = "default_fetch_wait_ms")]
    pub fetch_wait_ms: u64,
    /// How producers compress record batches (librdkafka `compression.type`).
    #[serde(default)]
    pub compression: Compression,
}

/// A producer's batch compression. zstd packs market data tightest and matches the topics'
/// `compression` in `config/topics.yaml` (a broker whose topic says otherwise recompresses
/// every batch); lz4 costs a fraction of the CPU on both ends, which counts where the stages
/// and the broker share few cores (see the README's performance section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    #[default]
    Zstd,
}

impl Compression {
    /// The name librdkafka and Kafka topic configs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// Base URL of a Confluent-compatible Schema Registry.
    pub url: String,
    /// Where `tickwatch registry` (the local registry server) listens.
    #[serde(default = "default_registry_listen")]
    pub listen: String,
    /// The compacted topic the local registry keeps its schemas in.
    #[serde(default = "default_schemas_topic")]
    pub topic: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseSettings {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    #[serde(default = "default_database")]
    pub database: String,
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default)]
    pub password: String,
    /// Days the raw tables (trades, reference_prices, book_tops) keep rows; `tickwatch
    /// migrate` sets their TTL to it.
    #[serde(default = "default_hot_ttl_days")]
    pub hot_ttl_days: u32,
}

fn default_hot_ttl_days() -> u32 {
    7
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub bucket: String,
    /// Name of the environment variable holding the access key (never the key itself).
    #[serde(default = "default_access_key_env")]
    pub access_key_env: String,
    #[serde(default = "default_secret_key_env")]
    pub secret_key_env: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Where each stage serves Prometheus `/metrics`.
    pub listen: String,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings { listen: "127.0.0.1:9464".into() }
    }
}

/// OpenTelemetry traces (see `trace`): off unless an endpoint is set here or in the
/// environment (`OTEL_EXPORTER_OTLP_ENDPOINT`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtelSettings {
    /// Base URL of an OTLP/HTTP collector, e.g. `http://127.0.0.1:4318`; spans go to
    /// `<endpoint>/v1/traces`. Empty: no tracing.
    #[serde(default)]
    pub endpoint: String,
    /// The share of raw records the ingestor starts a trace for, 0 to 1.
    #[serde(default = "default_sample_ratio")]
    pub sample_ratio: f64,
}

fn default_sample_ratio() -> f64 {
    0.001
}

impl Default for OtelSettings {
    fn default() -> Self {
        OtelSettings { endpoint: String::new(), sample_ratio: default_sample_ratio() }
    }
}

/// The other configuration files, relative to the working directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub topics: PathBuf,
    pub exchanges: PathBuf,
    pub symbols: PathBuf,
    pub clickhouse_ddl: PathBuf,
    /// The window worker's settings (optional in older settings files).
    #[serde(default = "default_windows_file")]
    pub windows: PathBuf,
    /// The ClickHouse and Parquet writers' settings.
    #[serde(default = "default_sinks_file")]
    pub sinks: PathBuf,
    /// The analytics worker's settings (spreads, divergence, PriceSmooth, EMA, quality).
    #[serde(default = "default_analytics_file")]
    pub analytics: PathBuf,
    /// The alert rules and notifiers.
    #[serde(default = "default_alerts_file")]
    pub alerts: PathBuf,
    /// The query API and dashboard (`tickwatch api serve`).
    #[serde(default = "default_api_file")]
    pub api: PathBuf,
    /// The EVM chains of `tickwatch evm ingest|backfill`: JSON-RPC endpoints, confirmations.
    #[serde(default = "default_chains_file")]
    pub chains: PathBuf,
}

fn default_analytics_file() -> PathBuf {
    "config/analytics.yaml".into()
}

fn default_chains_file() -> PathBuf {
    "config/chains.yaml".into()
}
fn default_api_file() -> PathBuf {
    "config/api.yaml".into()
}
fn default_alerts_file() -> PathBuf {
    "config/alerts.yaml".into()
}

fn default_windows_file() -> PathBuf {
    "config/windows.yaml".into()
}

fn default_sinks_file() -> PathBuf {
    "config/sinks.yaml".into()
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            topics: "config/topics.yaml".into(),
            exchanges: "config/exchanges.yaml".into(),
            symbols: "config/symbols.yaml".into(),
            clickhouse_ddl: "schemas/clickhouse".into(),
            windows: default_windows_file(),
            sinks: default_sinks_file(),
            analytics: default_analytics_file(),
            api: default_api_file(),
            alerts: default_alerts_file(),
            chains: default_chains_file(),
        }
    }
}

/// librdkafka's own default. Redpanda and Kafka answer as soon as records arrive, so it costs
/// no latency there. Tansu holds every fetch for the whole wait, but it also answers nothing
/// when reading the partition takes longer than the wait, and its memory storage lists every
/// batch ever written to a partition on each read: with 20 ms, a consumer of a partition
/// holding some 20 000 batches (minutes at a few thousand records a second) got empty
/// answers forever.
fn default_fetch_wait_ms() -> u64 {
    500
}

fn default_client_id() -> String {
    "tickwatch".into()
}
fn default_registry_listen() -> String {
    "127.0.0.1:8081".into()
}
fn default_schemas_topic() -> String {
    "_schemas".into()
}
fn default_database() -> String {
    "tickwatch".into()
}
fn default_user() -> String {
    "default".into()
}
fn default_region() -> String {
    "us-east-1".into()
}
fn default_access_key_env() -> String {
    "TICKWATCH_S3_ACCESS_KEY".into()
}
fn default_secret_key_env() -> String {
    "TICKWATCH_S3_SECRET_KEY".into()
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let s: Settings = load_yaml(path)?;
        s.validate(path)?;
        Ok(s)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Settings, ConfigError> {
        let s: Settings = parse_yaml(path, text)?;
        s.validate(path)?;
        Ok(s)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        check_host_ports(path, "broker.bootstrap", &self.broker.bootstrap)?;
        check_http_url(path, "registry.url", &self.registry.url)?;
        check_host_ports(path, "registry.listen", &self.registry.listen)?;
        if self.registry.topic.is_empty() {
            return Err(ConfigError::field(path, "registry.topic", "must not be empty (the usual name is _schemas)"));
        }
        check_http_url(path, "clickhouse.url", &self.clickhouse.url)?;
        let db_ok = !self.clickhouse.database.is_empty()
            && self.clickhouse.database.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !db_ok {
            return Err(ConfigError::field(path, "clickhouse.database", "must be letters, digits and underscores"));
        }
        check_http_url(path, "s3.endpoint", &self.s3.endpoint)?;
        if self.s3.bucket.len() < 3 {
            return Err(ConfigError::field(path, "s3.bucket", "an S3 bucket name has at least 3 characters"));
        }
        if !self.redis.url.starts_with("redis://") && !self.redis.url.starts_with("rediss://") {
            return Err(ConfigError::field(
                path,
                "redis.url",
                format!("`{}` is not a redis:// URL, e.g. redis://127.0.0.1:6379/0", self.redis.url),
            ));
        }
        check_host_ports(path, "metrics.listen", &self.metrics.listen)?;
        if !self.otel.endpoint.is_empty() {
            check_http_url(path, "otel.endpoint", &self.otel.endpoint)?;
        }
        if !(0.0..=1.0).contains(&self.otel.sample_ratio) {
            return Err(ConfigError::field(
                path,
                "otel.sample_ratio",
                format!(
                    "{} is not a share between 0 and 1 (0.001 traces one record in a thousand)",
                    self.otel.sample_ratio
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "
broker: {bootstrap: '127.0.0.1:9092', flavor: tansu}
registry: {url: 'http://127.0.0.1:8081'}
clickhouse: {url: 'http://127.0.0.1:8123'}
s3: {endpoint: 'http://127.0.0.1:9000', bucket: tickwatch}
redis: {url: 'redis://127.0.0.1:6379/0'}
";

    fn err(text: &str) -> String {
        Settings::parse(Path::new("t.yaml"), text).unwrap_err().to_string()
    }

    #[test]
    fn good_file_parses_with_defaults() {
        let s = Settings::parse(Path::new("t.yaml"), GOOD).unwrap();
        assert_eq!(s.clickhouse.database, "tickwatch");
        assert_eq!(s.registry.topic, "_schemas");
        assert_eq!(s.broker.flavor, BrokerFlavor::Tansu);
        assert_eq!(s.broker.compression, Compression::Zstd);
        let lz4 =
            Settings::parse(Path::new("t.yaml"), &GOOD.replace("flavor: tansu", "flavor: tansu, compression: lz4"));
        assert_eq!(lz4.unwrap().broker.compression, Compression::Lz4);
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(&GOOD.replace("http://127.0.0.1:8123", "127.0.0.1:8123"));
        assert!(e.starts_with("t.yaml: field `clickhouse.url`: `127.0.0.1:8123` is not an http"), "{e}");
        let e = err(&GOOD.replace("9092", "x"));
        assert!(e.contains("field `broker.bootstrap`"), "{e}");
        let e = err(&GOOD.replace("bucket: tickwatch", "bukket: tickwatch"));
        assert!(e.contains("field `s3.bukket`") && e.contains("check the spelling"), "{e}");
        let e = err(&GOOD.replace("redis: {url: 'redis://127.0.0.1:6379/0'}", ""));
        assert!(e.contains("missing field `redis`"), "{e}");
        let e = err(&GOOD.replace("flavor: tansu", "flavor: pulsar"));
        assert!(e.contains("field `broker.flavor`") && e.contains("pulsar"), "{e}");
        let e = err(&GOOD.replace("flavor: tansu", "flavor: tansu, compression: brotli"));
        assert!(e.contains("field `broker.compression`") && e.contains("brotli") && e.contains("lz4"), "{e}");
        let e = err(&format!("{GOOD}otel: {{endpoint: 'http://127.0.0.1:4318', sample_ratio: 2}}"));
        assert!(e.contains("field `otel.sample_ratio`") && e.contains("between 0 and 1"), "{e}");
        let e = err(&format!("{GOOD}otel: {{endpoint: '127.0.0.1:4318'}}"));
        assert!(e.contains("field `otel.endpoint`"), "{e}");
    }
}
