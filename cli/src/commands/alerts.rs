//! `tickwatch alerts engine|notify|check|silence`: the rule engine, the notifier, a rule-file
//! check, and silences.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use tickwatch_alerts::engine_run::{self, AlertsWorker};
use tickwatch_alerts::notify_run;
use tickwatch_alerts::rules::AlertsFile;
use tickwatch_alerts::silences::{new_id, parse_matchers, Silence, Silences};
use tickwatch_runtime::config_error::parse_duration_ms;
use tickwatch_runtime::produce::now_us;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;

#[derive(Subcommand)]
pub enum AlertsAction {
    /// Consume `signals`, evaluate the rules, publish firing/resolved alerts to `alerts`.
    Engine(WorkerArgs),
    /// Consume `alerts` and notify Slack, Lark and e-mail (grouped, rate-limited, silenced).
    Notify(WorkerArgs),
    /// Check the rule file; prints the rules, exits 2 naming the line of a bad one.
    Check(FileArg),
    /// Add, list or delete silences.
    Silence {
        #[command(subcommand)]
        action: SilenceAction,
    },
}

#[derive(Args)]
pub struct FileArg {
    /// The rule file (default: files.alerts of the settings, config/alerts.yaml).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Prefix of the Redis keys (state and silences).
    #[arg(long, default_value = "tickwatch:alerts:")]
    state_prefix: String,
}

#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    file: FileArg,
    /// Prepended to every topic and subject (side-by-side runs, tests).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// The consumer group (default: tickwatch-alert-engine, tickwatch-notifier).
    #[arg(long)]
    group: Option<String>,
    /// Where to serve Prometheus /metrics, /healthz and /readyz (default: metrics.listen of
    /// the settings; if it is taken, the stage runs on without them and says so).
    #[arg(long)]
    metrics_listen: Option<String>,
}

#[derive(Subcommand)]
pub enum SilenceAction {
    /// Silence alerts whose labels match, e.g. `--match rule=spread-btc --match instrument=BTC-USDT --for 2h`.
    Add {
        #[command(flatten)]
        file: FileArg,
        /// label=value (`*` for any value); repeat for several, all must match.
        #[arg(long = "match", required = true)]
        matchers: Vec<String>,
        /// How long, e.g. 30m, 2h, 1d.
        #[arg(long = "for")]
        duration: String,
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long, env = "USER", default_value = "tickwatch")]
        by: String,
    },
    /// List silences (one JSON object per line).
    List(FileArg),
    /// Delete a silence by id.
    Delete {
        #[command(flatten)]
        file: FileArg,
        id: String,
    },
}

fn load(settings: &Settings, f: &FileArg) -> anyhow::Result<(AlertsFile, PathBuf)> {
    let path = f.rules.clone().unwrap_or_else(|| settings.files.alerts.clone());
    Ok((AlertsFile::load(&path)?, path))
}

pub async fn run(settings: &Settings, action: AlertsAction) -> anyhow::Result<()> {
    match action {
        AlertsAction::Check(f) => {
            let (file, path) = load(settings, &f)?;
            for r in &file.rules {
                println!("{}\t{:?}\t{}", r.name, r.severity.unwrap_or(file.defaults.severity), r.when);
            }
            eprintln!("{}: {} rules ok", path.display(), file.rules.len());
            Ok(())
        }
        AlertsAction::Engine(args) => worker(settings, args, false).await,
        AlertsAction::Notify(args) => worker(settings, args, true).await,
        AlertsAction::Silence { action } => silence(settings, action),
    }
}

async fn worker(settings: &Settings, args: WorkerArgs, notify: bool) -> anyhow::Result<()> {
    let (rules, path) = load(settings, &args.file)?;
    let default_group = if notify { "tickwatch-notifier" } else { "tickwatch-alert-engine" };
    let stage = if notify { "notifier" } else { "alert-engine" };
    super::serve_stage_metrics(stage, args.metrics_listen.as_deref(), settings).await;
    let cfg = AlertsWorker {
        prefix: args.topic_prefix,
        group: args.group.unwrap_or_else(|| default_group.into()),
        rules,
        state_prefix: args.file.state_prefix,
    };
    let registry = RegistryClient::new(&settings.registry.url);
    let settings = settings.clone();
    super::run_worker(if notify { "notifier" } else { "alert-engine" }, move |handle, stop| {
        if notify {
            notify_run::run(&settings, &registry, &cfg, &path, handle, stop)
        } else {
            engine_run::run(&settings, &registry, &cfg, handle, stop)
        }
        .map_err(anyhow::Error::from)
    })
    .await
}

fn silence(settings: &Settings, action: SilenceAction) -> anyhow::Result<()> {
    let prefix = match &action {
        SilenceAction::Add { file, .. } | SilenceAction::List(file) | SilenceAction::Delete { file, .. } => {
            file.state_prefix.clone()
        }
    };
    let mut store = Silences::new(&settings.redis.url, &prefix);
    match action {
        SilenceAction::Add { matchers, duration, comment, by, .. } => {
            let ms = parse_duration_ms(&duration)
                .ok_or_else(|| anyhow::anyhow!("--for `{duration}`: write a duration such as 30m, 2h, 1d"))?;
            let now = now_us();
            let s = Silence {
                id: new_id(now),
                matchers: parse_matchers(&matchers).map_err(anyhow::Error::msg)?,
                starts_at_us: now,
                ends_at_us: now + ms * 1000,
                created_by: by,
                comment,
            };
            store.add(&s)?;
            println!("{}", s.id);
        }
        SilenceAction::List(_) => {
            for s in store.list()? {
                println!("{}", serde_json::to_string(&s)?);
            }
        }
        SilenceAction::Delete { id, .. } => {
            if !store.delete(&id)? {
                anyhow::bail!("no silence `{id}` (list them with `tickwatch alerts silence list`)");
            }
        }
    }
    Ok(())
}
