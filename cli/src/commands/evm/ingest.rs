//! `tickwatch evm ingest`: follow one chain until stopped.

use super::{parts, ChainArgs};
use crate::commands::{serve_metrics, shutdown_signal};
use clap::Args;
use std::sync::Arc;
use std::time::Duration;
use tickwatch_ingest::evm::canonical::is_confirmed;
use tickwatch_ingest::evm::metrics::EvmMetrics;
use tickwatch_ingest::evm::{follow::FollowError, Follower, Reach};
use tickwatch_runtime::Settings;

#[derive(Args)]
pub struct IngestArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Where to serve Prometheus /metrics (default: metrics.listen from the settings).
    #[arg(long)]
    metrics_listen: Option<String>,
}

pub async fn run(settings: &Settings, args: IngestArgs) -> anyhow::Result<()> {
    let metrics = Arc::new(EvmMetrics::default());
    let m = metrics.clone();
    serve_metrics("evm-ingest", args.metrics_listen.as_deref().unwrap_or(&settings.metrics.listen), move || m.render())
        .await;
    let name = args.chain.chain.clone();
    let parts = parts(settings, &args.chain, Reach::Live, metrics, |c| c.checkpoint_path(&name)).await?;
    let (poll, confirmations, start_block) =
        (Duration::from_millis(parts.cfg.poll_ms), parts.cfg.confirmations, parts.cfg.start_block);
    let head = parts.rpc.block_number().await?;
    // Without a checkpoint: the configured block, else the newest final one.
    let start =
        start_block.unwrap_or_else(|| (0..=head).rev().find(|n| is_confirmed(*n, head, confirmations)).unwrap_or(0));
    let mut follower = Follower::new(parts, start)?;
    tracing::info!(chain = %name, head, next_block = follower.next_block(), topic = follower.topic(), "following the chain");
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        match follower.step().await {
            Ok(_) => {}
            // A node that does not answer now may later: said, and tried again at the next poll.
            Err(FollowError::Rpc(e)) => tracing::error!(chain = %name, "{e}; trying again at the next poll"),
            Err(e) => return Err(e.into()),
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = &mut stop => return Ok(()),
        }
    }
}
