//! `tickwatch evm backfill`: the pools' logs of a range of final blocks, published as
//! confirmed, range by range, with a progress bar; a checkpoint records the next block, so
//! an interrupted run resumes where it stopped.

use super::{parts, ChainArgs};
use crate::commands::progress::Progress;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use tickwatch_ingest::evm::canonical::is_confirmed;
use tickwatch_ingest::evm::metrics::EvmMetrics;
use tickwatch_ingest::evm::{Follower, Reach};
use tickwatch_runtime::Settings;

#[derive(Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// First block (inclusive).
    #[arg(long)]
    from_block: u64,
    /// Last block (inclusive); it must be final (the chain's confirmations deep).
    #[arg(long)]
    to_block: u64,
}

pub async fn run(settings: &Settings, args: BackfillArgs) -> anyhow::Result<()> {
    let (from, to) = (args.from_block, args.to_block);
    if from > to {
        anyhow::bail!("--from-block {from} is after --to-block {to}");
    }
    let metrics = Arc::new(EvmMetrics::default());
    let name = args.chain.chain.clone();
    let default_cp = |_: &_| PathBuf::from(format!(".tickwatch/evm/backfill_{name}_{from}_{to}.json"));
    let parts = parts(settings, &args.chain, Reach::Backfill { until: to }, metrics.clone(), default_cp).await?;
    let confirmations = parts.cfg.confirmations;
    let head = parts.rpc.block_number().await?;
    if !is_confirmed(to, head, confirmations) {
        anyhow::bail!(
            "block {to} is not final yet (head {head}, {confirmations} confirmations); backfill up to {} and let `tickwatch evm ingest` take the newer blocks",
            (head + 1).saturating_sub(confirmations)
        );
    }
    let mut follower = Follower::new(parts, from)?;
    let at = follower.next_block();
    if at > to {
        println!("already backfilled: {name} blocks [{from}, {to}] (delete the checkpoint to run again)");
        return Ok(());
    }
    if at > from {
        eprintln!("resuming at block {at}");
    }
    let total = (to - from + 1) as i64;
    let mut progress = Progress::new("blocks", total, (at - from) as i64);
    while follower.advance(head).await? {
        progress.advance((follower.next_block() - from) as i64);
    }
    progress.advance(total);
    progress.finish();
    let published = metrics.published_total();
    println!("backfilled {published} logs of {name} blocks [{from}, {to}] into {}", follower.topic());
    Ok(())
}
