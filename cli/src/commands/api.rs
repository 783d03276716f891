//! `tickwatch api serve`: the query API and dashboard.

use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tickwatch_api::config::ApiConfig;
use tickwatch_api::{App, AppParts};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::venues::load_symbols;
use tickwatch_runtime::Settings;

#[derive(Subcommand)]
pub enum ApiAction {
    /// Serve the REST API (/api/v1/…, /openapi.json) and the dashboard (/).
    Serve(ServeArgs),
}

#[derive(Args)]
pub struct ServeArgs {
    /// The API settings (default: files.api of the settings, config/api.yaml).
    #[arg(long)]
    api: Option<PathBuf>,
    /// host:port to bind (default: `listen` of the API settings).
    #[arg(long)]
    listen: Option<String>,
    /// Prepended to the followed topics (side-by-side runs, tests).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// Where to serve Prometheus /metrics, /healthz and /readyz (default: metrics.listen of
    /// the settings; if it is taken, the stage runs on without them and says so).
    #[arg(long)]
    metrics_listen: Option<String>,
}

pub async fn run(settings: &Settings, action: ApiAction) -> anyhow::Result<()> {
    let ApiAction::Serve(args) = action;
    let path = args.api.clone().unwrap_or_else(|| settings.files.api.clone());
    let mut cfg = ApiConfig::load(&path)?;
    let durations = cfg.durations(&path)?;
    if cfg.dashboard_dir.is_relative() {
        cfg.dashboard_dir = relative_to_config(&path, &cfg.dashboard_dir);
    }
    let listen = args.listen.clone().unwrap_or_else(|| cfg.listen.clone());
    let windows = super::windows::load(&settings.files.windows)?;
    let symbols = load_symbols(&settings.files.symbols)?;
    let clickhouse = ClickHouse::new(&settings.clickhouse);
    let parts = AppParts {
        cfg,
        durations,
        clickhouse: clickhouse.clone(),
        redis_url: settings.redis.url.clone(),
        symbols,
        intervals: windows.intervals.clone(),
    };
    let app = Arc::new(App::new(parts).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?);
    let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {listen}: {e}; pass a free --listen or change `listen` in {}", path.display())
    })?;
    super::serve_stage_metrics("api", args.metrics_listen.as_deref(), settings).await;
    match tickwatch_api::hot::seed::seed(&clickhouse, &app.hot, durations.seed_window_ms).await {
        Ok(()) => tracing::info!(series = ?app.hot.sizes(), "hot values read from ClickHouse"),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the latest values from ClickHouse; they fill in from the topics")
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let follower = if app.cfg.hot.follow {
        let registry = RegistryClient::new(&settings.registry.url);
        Some(tickwatch_api::hot::follow::spawn(
            settings.broker.clone(),
            registry,
            args.topic_prefix.clone(),
            app.hot.clone(),
            app.follow.clone(),
            stop.clone(),
        )?)
    } else {
        None
    };
    tracing::info!(listen, dashboard = %format!("http://{listen}/"), "serving the API");
    tickwatch_api::serve(app, listener, super::shutdown_signal()).await?;
    stop.store(true, Ordering::Relaxed);
    if let Some(f) = follower {
        let _ = tokio::task::spawn_blocking(move || f.join()).await;
    }
    Ok(())
}

/// A relative path of the API settings, taken from the folder above the file's folder.
fn relative_to_config(config: &Path, relative: &Path) -> PathBuf {
    let base = config.parent().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty());
    match base {
        Some(b) => b.join(relative),
        None => relative.to_path_buf(),
    }
}
