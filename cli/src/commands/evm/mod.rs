//! `tickwatch evm`: DEX pools on EVM chains. `ingest` follows a chain's head (reorgs
//! included) and publishes the pools' logs to `raw.dex`; `backfill` reads a range of final
//! blocks; `fake-node` serves a seeded chain over JSON-RPC for local runs.

pub mod backfill;
pub mod fake_node;
pub mod ingest;

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use tickwatch_ingest::evm::metrics::EvmMetrics;
use tickwatch_ingest::evm::pools::WatchedPools;
use tickwatch_ingest::evm::publish::DexPublisher;
use tickwatch_ingest::evm::rpc::RpcClient;
use tickwatch_ingest::evm::{ChainConfig, ChainsFile, FollowerParts, Reach};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::venues::load_symbols;
use tickwatch_runtime::{ConfigError, Settings};

#[derive(Subcommand)]
pub enum EvmAction {
    /// Follow a chain: its pools' logs to raw.dex, pending → confirmed, reorgs retracted.
    Ingest(ingest::IngestArgs),
    /// A range of final blocks into raw.dex (resumable, with a progress bar).
    Backfill(backfill::BackfillArgs),
    /// A fake JSON-RPC node: a seeded chain of the symbols file's pools, scripted reorgs.
    FakeNode(fake_node::FakeNodeArgs),
}

pub async fn run(settings: &Settings, action: EvmAction) -> anyhow::Result<()> {
    match action {
        EvmAction::Ingest(args) => ingest::run(settings, args).await,
        EvmAction::Backfill(args) => backfill::run(settings, args).await,
        EvmAction::FakeNode(args) => fake_node::run(settings, args).await,
    }
}

/// What both `ingest` and `backfill` take.
#[derive(Args)]
pub struct ChainArgs {
    /// The chain's name in the chains file.
    #[arg(long)]
    chain: String,
    /// The chains file (default: files.chains of the settings).
    #[arg(long)]
    chains: Option<PathBuf>,
    /// JSON-RPC endpoints instead of the file's (repeat for several).
    #[arg(long = "rpc")]
    rpc: Vec<String>,
    /// The checkpoint file instead of the chain's.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Prepended to the topic and subject.
    #[arg(long, default_value = "")]
    topic_prefix: String,
}

/// A chain's parts, checked against the node: its chain id, and its pools' token decimals
/// against the symbols file (a disagreement is a configuration error naming both values).
pub async fn parts(
    settings: &Settings,
    args: &ChainArgs,
    reach: Reach,
    metrics: Arc<EvmMetrics>,
    default_checkpoint: impl FnOnce(&ChainConfig) -> PathBuf,
) -> anyhow::Result<FollowerParts> {
    let path = args.chains.clone().unwrap_or_else(|| settings.files.chains.clone());
    let file = ChainsFile::load(&path)?;
    let mut cfg = file.chain(&path, &args.chain)?.clone();
    if !args.rpc.is_empty() {
        cfg.rpc = args.rpc.clone();
    }
    let rpc = RpcClient::new(&args.chain, cfg.rpc.clone(), cfg.requests_per_second, metrics.clone());
    let said = rpc.chain_id().await?;
    if said as i64 != cfg.chain_id {
        return Err(ConfigError::field(
            &path,
            format!("chains.{}.chain_id", args.chain),
            format!(
                "is {}, but the node at {} says {said}; fix chain_id or the rpc endpoints",
                cfg.chain_id, cfg.rpc[0]
            ),
        )
        .into());
    }
    let symbols = load_symbols(&settings.files.symbols)?;
    let pools = WatchedPools::of_chain(&symbols, cfg.chain_id);
    if pools.is_empty() {
        return Err(ConfigError::field(
            &settings.files.symbols,
            "pools",
            format!("no pool of chain id {} ({}); add the pools to watch", cfg.chain_id, args.chain),
        )
        .into());
    }
    let wrong = pools.check_decimals(&rpc).await;
    if !wrong.is_empty() {
        return Err(ConfigError::field(
            &settings.files.symbols,
            "pools",
            format!("{}; fix the decimals in the symbols file", wrong.join("; ")),
        )
        .into());
    }
    let registry = RegistryClient::new(&settings.registry.url);
    let publisher = DexPublisher::new(&settings.broker, &registry, &args.topic_prefix).await?;
    let checkpoint = args.checkpoint.clone().unwrap_or_else(|| default_checkpoint(&cfg));
    Ok(FollowerParts { chain: args.chain.clone(), cfg, rpc, pools, publisher, metrics, checkpoint, reach })
}
