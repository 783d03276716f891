//! `tickwatch up`: every stage of the pipeline on this machine in one go, against the real
//! venues of the exchanges file or, with `--offline`, against fake Binance and OKX serving a
//! seeded market that starts now. The local stack (broker, registry, ClickHouse, S3, Redis)
//! must be running (`make up` starts it first). Each stage is a child process of this binary
//! with its log in `<log-dir>/<stage>.log`; one that exits is started again; Ctrl-C or SIGTERM
//! stops them all.

mod plan;
mod supervise;

use clap::Args;
use std::path::{Path, PathBuf};
use tickwatch_runtime::Settings;

#[derive(Args)]
pub struct UpArgs {
    /// Fake venues (Binance and OKX, BTC-USDT and ETH-USDT, a seeded synthetic market from
    /// now) instead of the real ones.
    #[arg(long)]
    offline: bool,
    /// Where the API and dashboard listen (default: `listen` of the API file).
    #[arg(long)]
    api_listen: Option<String>,
    /// The stages' /metrics ports count up from this one (ingest first).
    #[arg(long, default_value_t = 9470)]
    metrics_base_port: u16,
    /// Folder of the stages' logs.
    #[arg(long, default_value = ".stack/logs")]
    log_dir: PathBuf,
    /// Folder of the built transforms (`make transforms`).
    #[arg(long, default_value = "target/wasm32-wasip1/wasm")]
    wasm_dir: PathBuf,
    /// Hours of synthetic market the fake venues serve (`--offline`).
    #[arg(long, default_value_t = 2)]
    offline_hours: u64,
}

pub async fn run(settings: &Settings, settings_path: &Path, args: UpArgs) -> anyhow::Result<()> {
    for t in plan::TRANSFORMS {
        let wasm = args.wasm_dir.join(format!("{}.wasm", t.name));
        if !wasm.exists() {
            anyhow::bail!("{} is missing: build the transforms first (`make transforms`)", wasm.display());
        }
    }
    std::fs::create_dir_all(&args.log_dir)
        .map_err(|e| anyhow::anyhow!("cannot create the log folder {}: {e}", args.log_dir.display()))?;
    let exe = std::env::current_exe()?;
    let mut supervisor = supervise::Supervisor::new(exe, settings_path.to_path_buf(), args.log_dir.clone());
    let exchanges = if args.offline {
        Some(plan::offline_venues(&mut supervisor, &args.log_dir, args.offline_hours).await?)
    } else {
        None
    };
    let api_listen = match &args.api_listen {
        Some(l) => l.clone(),
        None => tickwatch_api::config::ApiConfig::load(&settings.files.api)?.listen,
    };
    for stage in plan::stages(exchanges.as_deref(), &args.wasm_dir, &api_listen, args.metrics_base_port) {
        supervisor.start(stage)?;
    }
    let dashboard = format!("http://{api_listen}/");
    let ready =
        supervise::wait_ready(&format!("http://{api_listen}/readyz"), std::time::Duration::from_secs(120)).await;
    // The line `make up` and scripts read.
    if ready {
        println!("dashboard: {dashboard}");
    } else {
        println!("dashboard: {dashboard} (not answering yet; see {}/api.log)", args.log_dir.display());
    }
    tracing::info!(
        stages = supervisor.len(),
        logs = %args.log_dir.display(),
        offline = args.offline,
        "tickwatch is up; Ctrl-C stops every stage"
    );
    supervisor.run_until_stopped().await;
    Ok(())
}
