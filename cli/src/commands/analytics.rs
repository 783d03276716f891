//! `tickwatch analytics run`: spreads, divergence, PriceSmooth, EMA crossovers and data-quality
//! figures from the clean topics to `signals` and `price.smooth`.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_sink_analytics::config::AnalyticsConfig;
use tickwatch_sink_analytics::run::{self, AnalyticsWorker};

#[derive(Subcommand)]
pub enum AnalyticsAction {
    /// Consume the clean topics; publish `signals` and `price.smooth`.
    Run(AnalyticsArgs),
}

#[derive(Args)]
pub struct AnalyticsArgs {
    /// The analytics settings (default: files.analytics of the settings, config/analytics.yaml).
    #[arg(long)]
    analytics: Option<PathBuf>,
    /// Prepended to every topic and subject (side-by-side runs, tests).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// The consumer group.
    #[arg(long, default_value = "tickwatch-analytics")]
    group: String,
    /// Where to serve Prometheus /metrics, /healthz and /readyz (default: metrics.listen of
    /// the settings; if it is taken, the stage runs on without them and says so).
    #[arg(long)]
    metrics_listen: Option<String>,
}

pub async fn run(settings: &Settings, action: AnalyticsAction) -> anyhow::Result<()> {
    let AnalyticsAction::Run(args) = action;
    let path = args.analytics.clone().unwrap_or_else(|| settings.files.analytics.clone());
    let config = AnalyticsConfig::load(&path)?;
    let durations = config.durations(&path)?;
    super::serve_stage_metrics("analytics", args.metrics_listen.as_deref(), settings).await;
    let cfg = AnalyticsWorker { prefix: args.topic_prefix, group: args.group, config, durations };
    let registry = RegistryClient::new(&settings.registry.url);
    let settings = settings.clone();
    super::run_worker("analytics", move |handle, stop| {
        run::run(&settings, &registry, &cfg, handle, stop).map_err(anyhow::Error::from)
    })
    .await
}
