//! `tickwatch sink clickhouse|parquet`: the writers that take topics out of the broker.

use clap::{Args, Subcommand};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::{ConfigError, Settings};
use tickwatch_sink_clickhouse::run::{self as clickhouse_run, SinkWorkerConfig};
use tickwatch_sink_clickhouse::ClickHouseSinkConfig;
use tickwatch_sink_parquet::run::{self as parquet_run, ParquetWorkerConfig};
use tickwatch_sink_parquet::ParquetSinkConfig;

/// `config/sinks.yaml`: one section per writer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinksFile {
    #[serde(default)]
    pub clickhouse: ClickHouseSinkConfig,
    #[serde(default)]
    pub parquet: ParquetSinkConfig,
}

#[derive(Subcommand)]
pub enum SinkAction {
    /// Write the configured topics into the ClickHouse hot tables.
    Clickhouse(SinkArgs),
    /// Write trades, k-lines, reference prices and confirmed DEX swaps to S3 as hourly zstd
    /// Parquet files.
    Parquet(SinkArgs),
}

#[derive(Args)]
pub struct SinkArgs {
    /// The writers' settings (default: files.sinks of the settings, config/sinks.yaml).
    #[arg(long)]
    sinks: Option<PathBuf>,
    /// Prepended to every topic read (side-by-side runs, tests).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// The consumer group (default: tickwatch-sink-<writer>).
    #[arg(long)]
    group: Option<String>,
    /// Static group membership: a stable id per replica (e.g. the pod name) gets its partitions
    /// back at once after a restart instead of after the session timeout.
    #[arg(long, env = "TICKWATCH_INSTANCE_ID")]
    instance_id: Option<String>,
    /// Where to serve Prometheus /metrics, /healthz and /readyz (default: metrics.listen of
    /// the settings; if it is taken, the stage runs on without them and says so).
    #[arg(long)]
    metrics_listen: Option<String>,
}

/// The writers' settings in `path`; the first problem is an error naming the field.
pub fn load(path: &Path) -> anyhow::Result<SinksFile> {
    let file: SinksFile = tickwatch_runtime::config_error::load_yaml(path)?;
    file.clickhouse.routes().map_err(|e| ConfigError::field(path, "clickhouse.topics", e.to_string()))?;
    file.parquet.check().map_err(|(field, why)| ConfigError::field(path, format!("parquet.{field}"), why))?;
    if file.clickhouse.batch_rows == 0 {
        return Err(ConfigError::field(path, "clickhouse.batch_rows", "must be at least 1").into());
    }
    Ok(file)
}

/// `settings_path`: where `settings` came from (named in configuration errors).
pub async fn run(settings: &Settings, settings_path: &Path, action: SinkAction) -> anyhow::Result<()> {
    let (writer, args) = match &action {
        SinkAction::Clickhouse(args) => ("clickhouse", args),
        SinkAction::Parquet(args) => ("parquet", args),
    };
    let path = args.sinks.clone().unwrap_or_else(|| settings.files.sinks.clone());
    let file = load(&path)?;
    let group = args.group.clone().unwrap_or_else(|| format!("tickwatch-sink-{writer}"));
    let (prefix, instance_id) = (args.topic_prefix.clone(), args.instance_id.clone());
    let stage = if writer == "clickhouse" { "sink-clickhouse" } else { "sink-parquet" };
    super::serve_stage_metrics(stage, args.metrics_listen.as_deref(), settings).await;
    let registry = RegistryClient::new(&settings.registry.url);
    let broker = settings.broker.clone();
    match action {
        SinkAction::Clickhouse(_) => {
            let cfg = SinkWorkerConfig { prefix, group, instance_id, sink: file.clickhouse };
            let clickhouse = settings.clickhouse.clone();
            super::run_worker("clickhouse-sink", move |handle, stop| {
                clickhouse_run::run(&broker, &registry, &clickhouse, &cfg, handle, stop).map_err(anyhow::Error::from)
            })
            .await
        }
        SinkAction::Parquet(_) => {
            let cfg = ParquetWorkerConfig { prefix, group, instance_id, sink: file.parquet };
            let s3 = settings.s3.clone();
            // A missing key is a configuration error: say so before starting.
            tickwatch_sink_parquet::store::Bucket::new(&s3)
                .map_err(|e| ConfigError::field(settings_path, "s3", e.to_string()))?;
            super::run_worker("parquet-sink", move |handle, stop| {
                parquet_run::run(&broker, &registry, &s3, &cfg, handle, stop).map_err(anyhow::Error::from)
            })
            .await
        }
    }
}
