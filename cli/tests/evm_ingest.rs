//! `tickwatch evm ingest` against the fake JSON-RPC node (a seeded chain of V2, V3 and
//! PancakeSwap V3 pools; ranges refused past 8 blocks, every 7th request a 503, a
//! dead endpoint listed before it), through the
//! real `tw-dex.wasm` and the ClickHouse writer. Reorgs of depth 1 to 3, one that shortens
//! the chain and one while the ingestor is down: once every block is final, the final layer
//! holds exactly the canonical chain's swaps, the mixed layer nothing orphaned, and the
//! retractions are on record.

mod common;

use common::dex::{DexPipeline, SwapKey};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tickwatch_fakes::evm::{serve, CanonicalSwap, Chain, ChainSpec, FakePool, NodeFaults, PoolKind};
use tickwatch_ingest::evm::metrics::EvmMetrics;
use tickwatch_ingest::evm::rpc::RpcClient;
use tickwatch_testkit::unique;

const CHAIN_ID: u64 = 31_337;
const CONFIRMATIONS: u64 = 4;

fn pool(address: &str, kind: PoolKind, decimals: (u8, u8), price: f64) -> FakePool {
    let token = |side: &str| format!("0x{side}{}", &address[4..]);
    FakePool {
        address: address.into(),
        kind,
        token0: token("a0"),
        token1: token("a1"),
        decimals0: decimals.0,
        decimals1: decimals.1,
        price,
    }
}

/// The pools of the chain, and the symbols file entries that name them.
fn pools() -> (Vec<FakePool>, String) {
    let pools = vec![
        pool("0x1111111111111111111111111111111111111111", PoolKind::UniswapV2, (18, 18), 0.001),
        pool("0x2222222222222222222222222222222222222222", PoolKind::UniswapV3, (6, 18), 1.0 / 2000.0),
        pool("0x3333333333333333333333333333333333333333", PoolKind::PancakeswapV3, (18, 18), 2.5),
    ];
    let entry = |p: &FakePool, protocol: &str, (t0, t1): (&str, &str), base: &str| {
        format!(
            "{{chain: testnet, chain_id: {CHAIN_ID}, address: \"{}\", protocol: {protocol}, \
             token0: {{symbol: {t0}, decimals: {}}}, token1: {{symbol: {t1}, decimals: {}}}, base: {base}}}",
            p.address, p.decimals0, p.decimals1
        )
    };
    let yaml = format!(
        "pools: [{}, {}, {}]",
        entry(&pools[0], "uniswap_v2", ("AAA", "WETH"), "token0"),
        entry(&pools[1], "uniswap_v3", ("USDC", "WETH"), "token1"),
        entry(&pools[2], "pancakeswap_v3", ("CAKE", "USDT"), "token0"),
    );
    (pools, yaml)
}

/// A chain of one-second blocks from an hour ago: it stays in the past however fast the test
/// mines it.
fn spec(seed: u64, start_block: u64, pools: Vec<FakePool>, max_swaps_per_block: u32) -> ChainSpec {
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let start_time_s = now_s - 3_600;
    ChainSpec { chain_id: CHAIN_ID, seed, start_block, start_time_s, block_time_s: 1, pools, max_swaps_per_block }
}

fn canonical_keys(swaps: &[CanonicalSwap]) -> BTreeSet<SwapKey> {
    swaps.iter().map(|s| (s.block_hash.clone(), s.tx_hash.clone(), s.log_index as i64)).collect()
}

/// Mine `n` blocks, one every `ms`.
async fn mine(chain: &Chain, n: u64, ms: u64) {
    for _ in 0..n {
        chain.mine(1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorgs_end_with_the_final_layer_equal_to_the_canonical_chain() {
    let prefix = unique("evm");
    let (fake_pools, symbols_yaml) = pools();
    let chain = Chain::new(spec(11, 5_000, fake_pools, 3), 30);
    let faults =
        NodeFaults { max_block_range: Some(8), fail_every: Some(7), batch_calls: Some(4), ..NodeFaults::default() };
    let addr = serve("127.0.0.1:0", chain.clone(), faults).await.unwrap();
    let chain_entry = format!(
        "chain_id: {CHAIN_ID}, rpc: [\"http://127.0.0.1:9/\", \"http://{addr}/\"], confirmations: {CONFIRMATIONS}, poll_ms: 150, \
         max_block_range: 50, requests_per_second: 400, start_block: 5000"
    );
    let pipeline = DexPipeline::start(&prefix, &symbols_yaml, &chain_entry).await;
    let mut ingest = Some(pipeline.ingest("ingest"));

    // The chain grows and reorganises under the running ingestor ...
    mine(&chain, 6, 300).await;
    chain.reorg(1, 1);
    mine(&chain, 3, 300).await;
    chain.reorg(3, 4);
    mine(&chain, 3, 300).await;
    chain.reorg(2, 1); // the new chain is shorter than the old one
    mine(&chain, 4, 300).await;
    // ... and while it is down: the restart follows that reorg by the blocks it kept (read up
    // to the head first, so that the reorg takes blocks it published).
    let checkpoint = std::env::temp_dir().join(format!("{prefix}-checkpoint.json"));
    let next_block = || {
        let text = std::fs::read_to_string(&checkpoint).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&text).map_or(0, |v| v["next_block"].as_u64().unwrap_or(0))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while next_block() <= chain.head() {
        assert!(std::time::Instant::now() < deadline, "the ingestor never reached the head");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(ingest.take());
    chain.reorg(2, 3);
    mine(&chain, 2, 100).await;
    ingest = Some(pipeline.ingest("ingest-2"));
    mine(&chain, 3, 300).await;
    chain.reorg(1, 2);
    // Everything final: the blocks on top make the confirmations of the last reorged one.
    mine(&chain, CONFIRMATIONS + 2, 300).await;

    let final_head = chain.head();
    let canonical = canonical_keys(&chain.swaps(final_head + 1 - CONFIRMATIONS));
    let everything = canonical_keys(&chain.swaps(final_head));
    assert!(canonical.len() > 40, "{} swaps on the chain", canonical.len());
    pipeline.check_layers(&canonical, &everything, 1).await;
    let log = pipeline.log("ingest-2");
    assert!(log.contains("resuming from the checkpoint") && log.contains("reorg:"), "{log}");
    let first = pipeline.log("ingest");
    for fault in ["127.0.0.1:9", "503 Service Unavailable", "refused the block range"] {
        assert!(first.contains(fault), "the ingestor met {fault} and went on: {first}");
    }
    drop(ingest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_that_disagrees_with_the_files_stops_the_ingestor_with_the_fix() {
    let prefix = unique("evmcfg");
    let (mut fake_pools, symbols_yaml) = pools();
    // On chain, the V3 pool's token0 has 8 decimals; the symbols file says 6.
    fake_pools[1].decimals0 = 8;
    let chain = Chain::new(spec(3, 100, fake_pools, 1), 5);
    let addr = serve("127.0.0.1:0", chain, NodeFaults::default()).await.unwrap();
    let chain_entry = format!("chain_id: {CHAIN_ID}, rpc: [\"http://{addr}/\"]");
    let (settings, chains) = common::dex::files(&prefix, &symbols_yaml, &chain_entry);
    let ingest = |chains: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tickwatch"))
            .arg("--config")
            .arg(&settings)
            .args(["evm", "ingest", "--chain", "testnet", "--metrics-listen", "127.0.0.1:0", "--chains"])
            .arg(chains)
            .output()
            .unwrap()
    };
    let out = ingest(&chains);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("pool 0x2222222222222222222222222222222222222222 token0 (USDC): decimals() is 8 on chain, the symbols file says 6")
            && err.contains("fix the decimals"),
        "{err}"
    );
    let other = std::env::temp_dir().join(format!("{prefix}-other.yaml"));
    let text = std::fs::read_to_string(&chains).unwrap().replace(&format!("chain_id: {CHAIN_ID}"), "chain_id: 1");
    std::fs::write(&other, text).unwrap();
    let out = ingest(&other);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("the node at http://{addr}/ says {CHAIN_ID}")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_node_command_serves_a_chain_of_the_symbols_files_pools() {
    use std::io::{BufRead, BufReader};
    let s = tickwatch_testkit::stack();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .arg("--config")
        .arg(&s.settings_path)
        .args(["evm", "fake-node", "--listen", "127.0.0.1:0", "--blocks", "40", "--block-ms", "100"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _node = tickwatch_testkit::ChildGuard(child);
    let url =
        line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}")).to_string();
    let metrics = std::sync::Arc::new(tickwatch_ingest::evm::metrics::EvmMetrics::default());
    let rpc = tickwatch_ingest::evm::rpc::RpcClient::new("fake", vec![url], 100.0, metrics);
    assert_eq!(rpc.chain_id().await.unwrap(), 1);
    let head = rpc.block_number().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rpc.block_number().await.unwrap() > head, "a block every --block-ms");
    // The shipped symbols file's chain-1 pools: Uniswap V3 USDC/WETH and V2 PEPE/WETH.
    let symbols = tickwatch_runtime::venues::load_symbols(&s.settings.files.symbols).unwrap();
    let pools = tickwatch_ingest::evm::pools::WatchedPools::of_chain(&symbols, 1);
    let logs = rpc.logs(head.saturating_sub(39), head, &pools.filter()).await.unwrap();
    let seen: BTreeSet<&str> = logs.iter().map(|l| l.address.as_str()).collect();
    assert_eq!(seen.len(), pools.protocols.len(), "every pool swaps: {seen:?}");
    assert!(pools.check_decimals(&rpc).await.is_empty(), "its tokens answer the file's decimals()");
}

/// A node that answers at most 7 calls of a batch (the rest: error 429 each): the client asks
/// again for what was refused, and every header comes back once, in order.
#[tokio::test]
async fn headers_refused_over_a_batch_cap_are_asked_for_again() {
    let chain = Chain::new(spec(5, 7_000, Vec::new(), 0), 80);
    let faults = NodeFaults { batch_calls: Some(7), ..NodeFaults::default() };
    let addr = serve("127.0.0.1:0", chain.clone(), faults).await.unwrap();
    let metrics = Arc::new(EvmMetrics::default());
    let rpc = RpcClient::new("testnet", vec![format!("http://{addr}/")], 1_000.0, metrics.clone());
    // A batch of 50 and one of 10, each answered 7 calls at a time.
    let numbers: Vec<u64> = (7_000..7_060).collect();
    let headers = rpc.headers(&numbers).await.unwrap();
    let got: Vec<u64> = headers.iter().map(|h| h.as_ref().expect("a mined block").number).collect();
    assert_eq!(got, numbers);
    assert_eq!(chain.requests().get("eth_getBlockByNumber"), Some(&60), "each header answered once");
    // 50 calls answered 7 a round: 7 rounds asked again; 10 calls: 1.
    let retried = format!("evm_rpc_errors_total{{chain=\"testnet\",endpoint=\"http://{addr}/\",kind=\"retried\"}} 8");
    assert!(metrics.render().contains(&retried), "{retried} in\n{}", metrics.render());
}
