//! `tickwatch windows run|book`: the event-time window workers (trades → `kline.<interval>`,
//! depth → `book.<interval>`).

use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::{ConfigError, Settings};
use tickwatch_sink_windows::book_run;
use tickwatch_sink_windows::run::{self, HotBooks, WorkerConfig};
use tickwatch_sink_windows::WindowConfig;

#[derive(Subcommand)]
pub enum WindowsAction {
    /// Consume `trades`, publish bars to `kline.<interval>` and late trades to quarantine.
    Run(WindowsArgs),
    /// Consume `depth`, publish each book's top, depth and imbalance per window to `book.<interval>`.
    Book(WindowsArgs),
}

#[derive(Args)]
pub struct WindowsArgs {
    /// The window settings (default: files.windows of the settings, config/windows.yaml).
    #[arg(long)]
    windows: Option<PathBuf>,
    /// Prepended to every topic and subject (side-by-side runs, tests).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// The consumer group (default: tickwatch-windows, tickwatch-book-windows).
    #[arg(long)]
    group: Option<String>,
    /// Book worker: prefix of the Redis keys its books are written to for the API.
    #[arg(long, default_value = tickwatch_runtime::hot_book::DEFAULT_PREFIX)]
    hot_books_prefix: String,
    /// Book worker: do not write the books to Redis.
    #[arg(long)]
    no_hot_books: bool,
    /// Where to serve Prometheus /metrics, /healthz and /readyz (default: metrics.listen of
    /// the settings; if it is taken, the stage runs on without them and says so).
    #[arg(long)]
    metrics_listen: Option<String>,
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
    if cfg.book_levels == 0 {
        return Err(ConfigError::field(path, "book_levels", "must be at least 1").into());
    }
    Ok(cfg)
}

pub async fn run(settings: &Settings, action: WindowsAction) -> anyhow::Result<()> {
    let (args, book) = match action {
        WindowsAction::Run(args) => (args, false),
        WindowsAction::Book(args) => (args, true),
    };
    let path = args.windows.clone().unwrap_or_else(|| settings.files.windows.clone());
    let default_group = if book { "tickwatch-book-windows" } else { "tickwatch-windows" };
    let cfg = WorkerConfig {
        prefix: args.topic_prefix.clone(),
        group: args.group.clone().unwrap_or_else(|| default_group.into()),
        windows: load(&path)?,
        hot_books: (book && !args.no_hot_books)
            .then(|| HotBooks { redis_url: settings.redis.url.clone(), prefix: args.hot_books_prefix.clone() }),
    };
    let stage = if book { "book-windows" } else { "windows" };
    super::serve_stage_metrics(stage, args.metrics_listen.as_deref(), settings).await;
    let registry = RegistryClient::new(&settings.registry.url);
    let broker = settings.broker.clone();
    super::run_worker(if book { "book-windows" } else { "windows" }, move |handle, stop| {
        if book {
            book_run::run(&broker, &registry, &cfg, handle, stop)
        } else {
            run::run(&broker, &registry, &cfg, handle, stop)
        }
        .map_err(anyhow::Error::from)
    })
    .await
}
