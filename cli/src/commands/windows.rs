//! `tickwatch windows run`: the event-time window worker (trades → `kline.<interval>`).

use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::{ConfigError, Settings};
use tickwatch_sink_windows::run::{self, WorkerConfig};
use tickwatch_sink_windows::WindowConfig;

#[derive(Subcommand)]
pub enum WindowsAction {
    /// Consume `trades`, publish bars to `kline.<interval>` and late trades to quarantine.
    Run(WindowsArgs),
}

#[derive(Args)]
pub struct WindowsArgs {
    /// The window settings (default: files.windows of the settings, config/windows.yaml).
    #[arg(long)]
    windows: Option<PathBuf>,
    /// Prepended to every topic and subject (side-by-side runs, tests).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// The consumer group.
    #[arg(long, default_value = "tickwatch-windows")]
    group: String,
}

/// The window settings in `path`; the first problem is an error naming the field.
pub fn load(path: &Path) -> anyhow::Result<WindowConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::field(path, "file", e.to_string()))?;
    let cfg: WindowConfig =
        serde_yaml::from_str(&text).map_err(|e| ConfigError::field(path, "windows", e.to_string()))?;
    cfg.parsed_intervals().map_err(|e| ConfigError::field(path, "intervals", e.to_string()))?;
    if cfg.allowed_lateness_ms < 0 || cfg.correction_horizon_ms < cfg.allowed_lateness_ms {
        return Err(ConfigError::field(
            path,
            "correction_horizon_ms",
            "must be at least allowed_lateness_ms, and both not negative",
        )
        .into());
    }
    Ok(cfg)
}

pub async fn run(settings: &Settings, action: WindowsAction) -> anyhow::Result<()> {
    let WindowsAction::Run(args) = action;
    let path = args.windows.clone().unwrap_or_else(|| settings.files.windows.clone());
    let cfg = WorkerConfig { prefix: args.topic_prefix.clone(), group: args.group.clone(), windows: load(&path)? };
    let registry = RegistryClient::new(&settings.registry.url);
    let broker = settings.broker.clone();
    super::run_worker("windows", move |handle, stop| {
        run::run(&broker, &registry, &cfg, handle, stop).map_err(anyhow::Error::from)
    })
    .await
}
