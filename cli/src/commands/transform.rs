use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_transform_host::runner::{self, RunnerConfig, RunnerStats};
use tickwatch_transform_host::{compile, RegistryLookup, TransformVm, VmConfig};

#[derive(Subcommand)]
pub enum TransformAction {
    /// Run a Redpanda data transform (.wasm) against the configured broker and registry.
    Run(RunArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// The transform module (e.g. target/wasm32-wasip1/wasm/tw-trades.wasm).
    #[arg(long)]
    wasm: PathBuf,
    /// Input topic.
    #[arg(long)]
    input: String,
    /// Output topics, in order (1 to 8); the first is the default output.
    #[arg(long = "output", required = true)]
    outputs: Vec<String>,
    /// Transform name (its argv[0] and log name); default: the file name.
    #[arg(long)]
    name: Option<String>,
    /// Consumer group; default: tickwatch-transform-<name>.
    #[arg(long)]
    group: Option<String>,
    /// Environment variables for the transform, KEY=VALUE (like transform.yaml `env`).
    #[arg(long = "env", value_parser = parse_var)]
    env: Vec<(String, String)>,
    /// Memory limit of the module, MiB.
    #[arg(long, default_value_t = 32)]
    memory_mib: usize,
    /// How long one record may run before the transform traps, ms.
    #[arg(long, default_value_t = 1000)]
    record_timeout_ms: u64,
    /// Most records per batch handed to the module. A batch takes what has arrived (up to
    /// this many) or waits `--linger-ms` to fill; each batch's outputs wait for the broker's
    /// acknowledgement of the batch before, so a host that falls behind catches up by taking
    /// larger batches, up to this cap, per broker round trip.
    #[arg(long, default_value_t = 10_000)]
    batch_max: usize,
    /// How long a batch may wait to fill, ms.
    #[arg(long, default_value_t = 20)]
    linger_ms: u64,
    /// Where to serve Prometheus /metrics (default: metrics.listen from the settings).
    #[arg(long)]
    metrics_listen: Option<String>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty() && !k.starts_with("REDPANDA_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE (and keys may not start with REDPANDA_)"))
}

pub async fn run(settings: &Settings, action: TransformAction) -> anyhow::Result<()> {
    let TransformAction::Run(args) = action;
    if args.outputs.len() > 8 {
        anyhow::bail!("--output: at most 8 output topics (Redpanda's limit), got {}", args.outputs.len());
    }
    let bytes = std::fs::read(&args.wasm).map_err(|e| {
        anyhow::anyhow!("--wasm {}: {e}; build the transforms with `make transforms`", args.wasm.display())
    })?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| args.wasm.file_stem().map_or("transform".into(), |s| s.to_string_lossy().into_owned()));
    let (engine, module) = compile(&bytes).map_err(|e| anyhow::anyhow!("--wasm {}: {e}", args.wasm.display()))?;
    let lookup = Arc::new(RegistryLookup {
        client: RegistryClient::new(&settings.registry.url),
        runtime: tokio::runtime::Handle::current(),
    });
    let vm_cfg = VmConfig {
        name: name.clone(),
        input_topic: args.input.clone(),
        output_topics: args.outputs.clone(),
        env: args.env.clone(),
        memory_limit: args.memory_mib << 20,
        record_time_limit: Duration::from_millis(args.record_timeout_ms),
    };
    let cfg = RunnerConfig {
        input: args.input.clone(),
        outputs: args.outputs.clone(),
        group: args.group.clone().unwrap_or_else(|| format!("tickwatch-transform-{name}")),
        batch_max: args.batch_max,
        linger: Duration::from_millis(args.linger_ms),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let broker = settings.broker.clone();
    let handle = tokio::runtime::Handle::current();
    let stats = Arc::new(RunnerStats::new(args.outputs.len()));
    let traps = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let listen = args.metrics_listen.clone().unwrap_or_else(|| settings.metrics.listen.clone());
    let (metric_stats, metric_traps) = (stats.clone(), traps.clone());
    let (metric_name, metric_input, metric_outputs) = (name.clone(), args.input.clone(), args.outputs.clone());
    super::start_tracing("transform", settings);
    super::serve_metrics("transform", &listen, move || {
        metric_stats.render(&metric_name, &metric_input, &metric_outputs, metric_traps.load(Ordering::Relaxed))
            + &tickwatch_runtime::trace::render_metrics()
    })
    .await;
    let worker_stop = stop.clone();
    let worker_stats = stats.clone();
    // The VM and the consumer block: they live on a thread of their own.
    let worker = std::thread::Builder::new().name("transform-host".into()).spawn(move || {
        let mut vm = TransformVm::start(&engine, &module, vm_cfg, lookup)
            .map_err(|e| anyhow::anyhow!("starting the transform: {e:?}"))?;
        let stats = worker_stats;
        let result = runner::run(&broker, &cfg, &mut vm, handle, &worker_stop, &stats);
        if matches!(result, Err(runner::RunnerError::Trapped { .. })) {
            traps.fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(
            records_in = stats.records_in.load(Ordering::Relaxed),
            records_out = ?stats.records_out.iter().map(|c| c.load(Ordering::Relaxed)).collect::<Vec<_>>(),
            "transform host stopped"
        );
        result.map_err(anyhow::Error::from)
    })?;
    let waiter = tokio::task::spawn_blocking(move || worker.join());
    tokio::pin!(waiter);
    tokio::select! {
        joined = &mut waiter => return joined?.map_err(|_| anyhow::anyhow!("the transform host thread panicked"))?,
        _ = super::shutdown_signal() => stop.store(true, Ordering::Relaxed),
    }
    waiter.await?.map_err(|_| anyhow::anyhow!("the transform host thread panicked"))?
}
