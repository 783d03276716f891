//! `tickwatch ingest`: the venue connectors of `config/exchanges.yaml`, publishing raw
//! records to the raw topics, with `/metrics`.

use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use tickwatch_ingest::binance::Binance;
use tickwatch_ingest::bybit::Bybit;
use tickwatch_ingest::metrics::IngestMetrics;
use tickwatch_ingest::okx::Okx;
use tickwatch_ingest::publish::Publisher;
use tickwatch_ingest::session::{connection, ConnectorConfig};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::venues::{load_symbols, Exchanges};
use tickwatch_runtime::{ConfigError, Settings};

/// Venues with a connector in this build.
const BUILT: &[&str] = &["binance", "binance-usdm", "okx", "bybit"];

#[derive(Args)]
pub struct IngestArgs {
    /// Only these venues (default: every enabled venue of the exchanges file).
    #[arg(long = "venue")]
    venues: Vec<String>,
    /// Only these canonical instruments of the selected venues (default: every configured
    /// one): one shard of a venue's instruments per ingestor.
    #[arg(long = "instrument")]
    instruments: Vec<String>,
    /// The exchanges file (default: files.exchanges of the settings).
    #[arg(long)]
    exchanges: Option<PathBuf>,
    /// Prepended to every raw topic and subject (side-by-side runs, tests).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// Where to serve Prometheus /metrics (default: metrics.listen from the settings).
    #[arg(long)]
    metrics_listen: Option<String>,
}

pub async fn run(settings: &Settings, args: IngestArgs) -> anyhow::Result<()> {
    let path = args.exchanges.clone().unwrap_or_else(|| settings.files.exchanges.clone());
    let exchanges = Exchanges::load(&path)?;
    let symbols = load_symbols(&settings.files.symbols)?;
    let mut configs = Vec::new();
    for (name, venue) in &exchanges.venues {
        let wanted = if args.venues.is_empty() { venue.enabled } else { args.venues.contains(name) };
        if !wanted {
            continue;
        }
        if !BUILT.contains(&name.as_str()) {
            if args.venues.contains(name) {
                return Err(ConfigError::field(
                    &path,
                    format!("venues.{name}"),
                    format!("no {name} connector in this build yet; built: {}", BUILT.join(", ")),
                )
                .into());
            }
            tracing::warn!(venue = %name, "no connector for this venue in this build yet; skipped");
            continue;
        }
        let mut venue = venue.clone();
        if !args.instruments.is_empty() {
            venue.instruments.retain(|i| args.instruments.contains(i));
            if venue.instruments.is_empty() {
                tracing::info!(venue = %name, "none of the --instrument ids is configured for this venue; skipped");
                continue;
            }
        }
        configs.push(
            ConnectorConfig::resolve(name, &venue, &symbols)
                .map_err(|m| ConfigError::field(&path, format!("venues.{name}"), m))?,
        );
    }
    for v in &args.venues {
        if !exchanges.venues.contains_key(v) {
            return Err(ConfigError::field(&path, "venues", format!("--venue {v} is not in the file")).into());
        }
    }
    for i in &args.instruments {
        if !configs.iter().any(|c| c.instruments.iter().any(|(_, canonical)| canonical == i)) {
            return Err(ConfigError::field(
                &path,
                "venues",
                format!("--instrument {i} is not an instrument of the selected venues; add it to their `instruments`"),
            )
            .into());
        }
    }
    if configs.is_empty() {
        let built = BUILT.join(", ");
        return Err(ConfigError::field(
            &path,
            "venues",
            format!("no enabled venue has a connector in this build (built: {built}); enable one or pass --venue"),
        )
        .into());
    }
    let metrics = Arc::new(IngestMetrics::default());
    let registry = RegistryClient::new(&settings.registry.url);
    let publisher = Publisher::start(&settings.broker, &registry, &args.topic_prefix, metrics.clone()).await?;
    let listen = args.metrics_listen.clone().unwrap_or_else(|| settings.metrics.listen.clone());
    super::start_tracing("ingest", settings);
    super::serve_metrics("ingest", &listen, {
        let metrics = metrics.clone();
        move || metrics.render() + &tickwatch_runtime::trace::render_metrics()
    })
    .await;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for cfg in configs {
        tracing::info!(venue = %cfg.venue, instruments = cfg.instruments.len(), ws = %cfg.ws_url, "connecting");
        let (p, m, s) = (publisher.clone(), metrics.clone(), stop.clone());
        match cfg.venue.as_str() {
            "okx" => tasks.spawn(connection::run(Okx, cfg, p, m, s)),
            "bybit" => tasks.spawn(connection::run(Bybit::for_url(&cfg.ws_url), cfg, p, m, s)),
            venue => tasks.spawn(connection::run(Binance::for_venue(venue), cfg, p, m, s)),
        };
    }
    let failed = tokio::select! {
        _ = super::shutdown_signal() => None,
        // A connector ends by itself only when its venue refuses the configuration.
        Some(Ok(Err(e))) = tasks.join_next() => Some(e),
    };
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    // Every connector is gone: send what is queued (the last quality minutes among it).
    publisher.close().await;
    match failed {
        Some(e) => Err(ConfigError::field(&path, "venues", e).into()),
        None => Ok(()),
    }
}
