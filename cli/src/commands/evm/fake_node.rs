//! `tickwatch evm fake-node`: the fake JSON-RPC node of `tickwatch-fakes` for local runs: a
//! seeded chain of the symbols file's pools of one chain id (token decimals as the file says),
//! a block every `--block-ms`, a reorg every `--reorg-every` blocks, and faults on demand.

use clap::Args;
use std::path::PathBuf;
use tickwatch_fakes::evm::{drive, serve, Chain, ChainSpec, FakePool, NodeFaults, PoolKind, ReorgStep};
use tickwatch_model::symbols::PoolSide;
use tickwatch_runtime::venues::load_symbols;
use tickwatch_runtime::Settings;

#[derive(Args)]
pub struct FakeNodeArgs {
    #[arg(long, default_value = "127.0.0.1:8545")]
    listen: String,
    /// The chain id it says; its pools are the symbols file's pools of this chain id.
    #[arg(long, default_value_t = 1)]
    chain_id: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Blocks mined before it starts serving.
    #[arg(long, default_value_t = 64)]
    blocks: u64,
    /// Milliseconds between two blocks (their timestamps are --block-seconds apart).
    #[arg(long, default_value_t = 12_000)]
    block_ms: u64,
    #[arg(long, default_value_t = 12)]
    block_seconds: i64,
    /// Most swaps in one block.
    #[arg(long, default_value_t = 4)]
    swaps_per_block: u32,
    /// A reorg every N blocks (0: none) ...
    #[arg(long, default_value_t = 0)]
    reorg_every: u64,
    /// ... replacing this many blocks (by as many plus one).
    #[arg(long, default_value_t = 2)]
    reorg_depth: u64,
    /// Every pool's starting price, quote per base.
    #[arg(long, default_value_t = 2000.0)]
    price: f64,
    /// Serve the real mainnet logs of this folder (../shared/fixtures/ethereum) instead.
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// eth_getLogs over more blocks is refused, as providers do.
    #[arg(long)]
    max_block_range: Option<u64>,
    /// Requests per second before HTTP 429.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Blocks below this are pruned (error 4444).
    #[arg(long)]
    pruned_below: Option<u64>,
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Every Nth request gets HTTP 503.
    #[arg(long)]
    fail_every: Option<u32>,
    /// A batch's calls past this many are each answered with error 429.
    #[arg(long)]
    batch_calls: Option<usize>,
}

/// A token address of the fake: derived from the pool's and its side, so each run agrees.
fn token_address(pool: &str, side: u8) -> String {
    format!("0x{:02x}{}", side, &pool.to_ascii_lowercase()[4..])
}

pub async fn run(settings: &Settings, args: FakeNodeArgs) -> anyhow::Result<()> {
    let faults = NodeFaults {
        max_block_range: args.max_block_range,
        requests_per_second: args.rate_limit,
        pruned_below: args.pruned_below,
        latency_ms: args.latency_ms,
        fail_every: args.fail_every,
        batch_calls: args.batch_calls,
    };
    let chain = match &args.fixtures {
        Some(folder) => Chain::from_fixtures(folder, args.chain_id, args.blocks)?,
        None => {
            let symbols = load_symbols(&settings.files.symbols)?;
            let pools: Vec<FakePool> = symbols
                .pools
                .iter()
                .filter(|p| p.chain_id == args.chain_id as i64)
                .map(|p| FakePool {
                    address: p.address.to_ascii_lowercase(),
                    kind: match p.protocol.as_str() {
                        "uniswap_v2" => PoolKind::UniswapV2,
                        "pancakeswap_v2" => PoolKind::PancakeswapV2,
                        "pancakeswap_v3" => PoolKind::PancakeswapV3,
                        _ => PoolKind::UniswapV3,
                    },
                    token0: token_address(&p.address, 0),
                    token1: token_address(&p.address, 1),
                    decimals0: p.token0.decimals as u8,
                    decimals1: p.token1.decimals as u8,
                    price: if p.base == PoolSide::Token0 { args.price } else { 1.0 / args.price },
                })
                .collect();
            if pools.is_empty() {
                anyhow::bail!("{} has no pool of chain id {}", settings.files.symbols.display(), args.chain_id);
            }
            let now = (tickwatch_runtime::produce::now_us() / 1_000_000) as i64;
            let spec = ChainSpec {
                chain_id: args.chain_id,
                seed: args.seed,
                start_block: 1_000_000,
                start_time_s: now - args.blocks as i64 * args.block_seconds,
                block_time_s: args.block_seconds,
                pools,
                max_swaps_per_block: args.swaps_per_block,
            };
            Chain::new(spec, args.blocks)
        }
    };
    let addr = serve(&args.listen, chain.clone(), faults).await?;
    println!("fake JSON-RPC node on http://{addr}/ (chain id {}, head {})", args.chain_id, chain.head());
    let script: Vec<ReorgStep> = match args.reorg_every {
        0 => Vec::new(),
        every => (1..10_000)
            .map(|i| ReorgStep {
                at_head: chain.head() + i * every,
                depth: args.reorg_depth,
                new_blocks: args.reorg_depth + 1,
            })
            .collect(),
    };
    tokio::select! {
        _ = drive(chain, args.block_ms, script, None) => {}
        _ = crate::commands::shutdown_signal() => {}
    }
    Ok(())
}
