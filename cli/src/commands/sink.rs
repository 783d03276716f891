//! `tickwatch sink clickhouse`: the writers that take topics out of the broker.

use clap::{Args, Subcommand};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::{ConfigError, Settings};
use tickwatch_sink_clickhouse::run::{self as clickhouse_run, SinkWorkerConfig};
use tickwatch_sink_clickhouse::ClickHouseSinkConfig;

/// `config/sinks.yaml`: one section per writer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinksFile {
    #[serde(default)]
    pub clickhouse: ClickHouseSinkConfig,
}

#[derive(Subcommand)]
pub enum SinkAction {
    /// Write the configured topics into the ClickHouse hot tables.
    Clickhouse(SinkArgs),
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
}

/// The writers' settings in `path`; the first problem is an error naming the field.
pub fn load(path: &Path) -> anyhow::Result<SinksFile> {
    let file: SinksFile = tickwatch_runtime::config_error::load_yaml(path)?;
    file.clickhouse.routes().map_err(|e| ConfigError::field(path, "clickhouse.topics", e.to_string()))?;
    if file.clickhouse.batch_rows == 0 {
        return Err(ConfigError::field(path, "clickhouse.batch_rows", "must be at least 1").into());
    }
    Ok(file)
}

pub async fn run(settings: &Settings, action: SinkAction) -> anyhow::Result<()> {
    let SinkAction::Clickhouse(args) = action;
    let path = args.sinks.clone().unwrap_or_else(|| settings.files.sinks.clone());
    let cfg = SinkWorkerConfig {
        prefix: args.topic_prefix.clone(),
        group: args.group.clone().unwrap_or_else(|| "tickwatch-sink-clickhouse".into()),
        instance_id: args.instance_id.clone(),
        sink: load(&path)?.clickhouse,
    };
    let registry = RegistryClient::new(&settings.registry.url);
    let (broker, clickhouse) = (settings.broker.clone(), settings.clickhouse.clone());
    super::run_worker("clickhouse-sink", move |handle, stop| {
        clickhouse_run::run(&broker, &registry, &clickhouse, &cfg, handle, stop).map_err(anyhow::Error::from)
    })
    .await
}
