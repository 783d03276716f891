//! `tickwatch`: one binary, one subcommand per stage or tool.

mod commands;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use tickwatch_runtime::{ConfigError, Settings};

#[derive(Parser)]
#[command(
    name = "tickwatch",
    version,
    about = "Crypto market data into monitored time series: ingest, transform, window, store, alert, serve."
)]
struct Cli {
    /// The settings file (endpoints of broker, registry, ClickHouse, S3, Redis).
    #[arg(long, global = true, env = "TICKWATCH_CONFIG", default_value = "config/tickwatch.yaml")]
    config: PathBuf,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a Confluent-compatible Schema Registry backed by the broker's `_schemas` topic.
    Registry,
    /// Apply the ClickHouse DDL in schemas/clickhouse/ (idempotent).
    Migrate,
    /// Topics from config/topics.yaml: create them, list them, or render the rpk scripts.
    Topics {
        #[command(subcommand)]
        action: commands::topics::TopicsAction,
    },
    /// Register every declared topic's value schema (subject <topic>-value, BACKWARD).
    Schemas {
        #[command(subcommand)]
        action: commands::schemas::SchemasAction,
    },
    /// Run a Redpanda data transform (.wasm) here, against any Kafka-API broker.
    Transform {
        #[command(subcommand)]
        action: commands::transform::TransformAction,
    },
    /// Check every configuration file and print what is wrong, one line per problem.
    Check,
    /// Connect to the venues of config/exchanges.yaml and publish raw records.
    Ingest(commands::ingest::IngestArgs),
    /// DEX pools on EVM chains: follow a chain (reorgs included), backfill blocks, a fake node.
    Evm {
        #[command(subcommand)]
        action: commands::evm::EvmAction,
    },
    /// Serve a fake venue (its real WebSocket and REST protocols) over a real recording.
    FakeVenue(commands::fake_venue::FakeVenueArgs),
    /// Order books: replay a recorded depth stream through a venue's sync rules.
    Book {
        #[command(subcommand)]
        action: commands::book::BookAction,
    },
    /// Event-time windows: trades → OHLCV bars on kline.<interval>.
    Windows {
        #[command(subcommand)]
        action: commands::windows::WindowsAction,
    },
    /// Signals for the alert rules: spreads, divergence, PriceSmooth, EMA, data quality.
    Analytics {
        #[command(subcommand)]
        action: commands::analytics::AnalyticsAction,
    },
    /// The query API and web dashboard.
    Api {
        #[command(subcommand)]
        action: commands::api::ApiAction,
    },
    /// The alert rule engine, the notifier, silences and rule checks.
    Alerts {
        #[command(subcommand)]
        action: commands::alerts::AlertsAction,
    },
    /// Writers that take topics out of the broker: ClickHouse hot tables.
    Sink {
        #[command(subcommand)]
        action: commands::sink::SinkAction,
    },
    /// The SLO report per venue (latency P95, minute completeness, reconnect recovery P95) from ClickHouse.
    Slo(commands::slo::SloArgs),
    /// Re-publish a time range of a topic, or of the Parquet history, into another (a shadow topic), in order
    Replay(commands::replay::ReplayArgs),
    /// A venue's 1m k-lines (or trades) over a range from its REST history into the pipeline (rate limits kept, resumable)
    Backfill(commands::history::backfill::BackfillArgs),
    /// Our 1m bars against the venue's own: verify, correct and flag them; completeness report
    Reconcile {
        #[command(subcommand)]
        action: commands::history::reconcile::ReconcileCommand,
    },
    /// Every stage on this machine in one go (the local stack must be up: `make up`)
    Up(commands::up::UpArgs),
    /// Run the ClickHouse engine from chDB's libchdb.so as a local HTTP server (local stack).
    ChdbServe(commands::chdb::ChdbArgs),
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,rdkafka=warn".into());
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_settings(path: &std::path::Path) -> Result<Settings, ConfigError> {
    Settings::load(path)
}

fn main() -> ExitCode {
    tickwatch_runtime::memory::tune_allocator();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    if let Command::ChdbServe(args) = &cli.command {
        // Not async, and it must own the whole process: the engine exits it when done.
        return commands::chdb::run(args);
    }
    // Every stage runs for days: what a burst allocated goes back to the system.
    tickwatch_runtime::memory::release_free_every(tickwatch_runtime::memory::RELEASE_PERIOD);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime starts");
    let outcome = runtime.block_on(run(cli));
    // The last spans of a stopping stage still reach the collector.
    tickwatch_runtime::trace::flush(std::time::Duration::from_secs(3));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A configuration error is the user's to fix: say which field, exit 2.
            let code = if e.downcast_ref::<ConfigError>().is_some() { 2 } else { 1 };
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Registry => {
            let settings = load_settings(&cli.config)?;
            commands::registry::run(&settings).await
        }
        Command::Migrate => {
            let settings = load_settings(&cli.config)?;
            commands::migrate::run(&settings).await
        }
        Command::Topics { action } => commands::topics::run(&cli.config, action).await,
        Command::Schemas { action } => {
            let settings = load_settings(&cli.config)?;
            commands::schemas::run(&settings, action).await
        }
        Command::Transform { action } => {
            let settings = load_settings(&cli.config)?;
            commands::transform::run(&settings, action).await
        }
        Command::Check => commands::check::run(&cli.config),
        Command::Book { action } => commands::book::run(action),
        Command::Ingest(args) => {
            let settings = load_settings(&cli.config)?;
            commands::ingest::run(&settings, args).await
        }
        Command::FakeVenue(args) => commands::fake_venue::run(args).await,
        Command::Evm { action } => {
            let settings = load_settings(&cli.config)?;
            commands::evm::run(&settings, action).await
        }
        Command::Windows { action } => {
            let settings = load_settings(&cli.config)?;
            commands::windows::run(&settings, action).await
        }
        Command::Analytics { action } => {
            let settings = load_settings(&cli.config)?;
            commands::analytics::run(&settings, action).await
        }
        Command::Api { action } => {
            let settings = load_settings(&cli.config)?;
            commands::api::run(&settings, action).await
        }
        Command::Alerts { action } => {
            let settings = load_settings(&cli.config)?;
            commands::alerts::run(&settings, action).await
        }
        Command::Sink { action } => {
            let settings = load_settings(&cli.config)?;
            commands::sink::run(&settings, &cli.config, action).await
        }
        Command::Slo(args) => {
            let settings = load_settings(&cli.config)?;
            commands::slo::run(&settings, args).await
        }
        Command::Replay(args) => {
            let settings = load_settings(&cli.config)?;
            commands::replay::run(&settings, args).await
        }
        Command::Backfill(args) => {
            let settings = load_settings(&cli.config)?;
            commands::history::backfill::run(&settings, args).await
        }
        Command::Reconcile { action } => {
            let settings = load_settings(&cli.config)?;
            commands::history::reconcile::run(&settings, action).await
        }
        Command::Up(args) => {
            let settings = load_settings(&cli.config)?;
            commands::up::run(&settings, &cli.config, args).await
        }
        Command::ChdbServe(_) => unreachable!("handled before the runtime starts"),
    }
}
