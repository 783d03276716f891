//! The EVM ingestor against a real local node: Ganache (npm, installed by scripts/setup.sh in
//! fakes/evm-node) with Uniswap V2's factory, a pair and two test tokens deployed from
//! @uniswap/v2-core's compiled contracts. Real swaps go through the pair. Then a reorg is
//! forced: `evm_snapshot`, two swaps, `evm_revert`, three other swaps on a longer chain. Once
//! every block is final, ClickHouse's final layer holds exactly the node's canonical swaps,
//! and the two orphaned ones are retracted. The ingestor's check of the tokens' `decimals()`
//! runs against the real contracts.

mod common;

use common::dex::{DexPipeline, SwapKey};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwatch_ingest::evm::metrics::EvmMetrics;
use tickwatch_ingest::evm::rpc::RpcClient;
use tickwatch_testkit::{free_port, repo_root, unique, ChildGuard};

const CHAIN_ID: u64 = 1_337;
const CONFIRMATIONS: u64 = 6;

struct Node {
    _ganache: ChildGuard,
    url: String,
    rpc: RpcClient,
    account: String,
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn address_word(address: &str) -> String {
    format!("{:0>64}", &address[2..])
}

fn uint_word(n: u128) -> String {
    format!("{n:064x}")
}

impl Node {
    async fn start() -> Node {
        let modules = repo_root().join("fakes/evm-node/node_modules");
        let ganache = modules.join(".bin/ganache");
        assert!(ganache.exists(), "{} is missing: run scripts/setup.sh", ganache.display());
        let port = free_port();
        let child = std::process::Command::new(ganache)
            .args(["--port", &port.to_string(), "--chain.chainId", &CHAIN_ID.to_string()])
            .args(["--wallet.deterministic", "--logging.quiet"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/");
        let rpc = RpcClient::new("ganache", vec![url.clone()], 1_000.0, Arc::new(EvmMetrics::default()));
        let deadline = Instant::now() + Duration::from_secs(60);
        while rpc.chain_id().await.is_err() {
            assert!(Instant::now() < deadline, "Ganache did not answer on {url}");
        }
        let accounts = rpc.call("eth_accounts", json!([])).await.unwrap();
        let account = accounts[0].as_str().unwrap().to_string();
        Node { _ganache: ChildGuard(child), url, rpc, account }
    }

    /// The 4-byte selector of `signature`, hashed by the node itself (`web3_sha3`).
    async fn selector(&self, signature: &str) -> String {
        let hash = self.rpc.call("web3_sha3", json!([format!("0x{}", hex_of(signature))])).await.unwrap();
        hash.as_str().unwrap()[2..10].to_string()
    }

    /// Send a transaction (a block of its own on Ganache) and return its receipt.
    async fn send(&self, to: Option<&str>, data: String) -> Value {
        let mut tx = json!({"from": self.account, "data": format!("0x{data}"), "gas": "0x989680"});
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        let hash = self.rpc.call("eth_sendTransaction", json!([tx])).await.unwrap();
        let receipt = self.rpc.call("eth_getTransactionReceipt", json!([hash])).await.unwrap();
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        receipt
    }

    async fn deploy(&self, contract: &str, args: &str) -> String {
        let path = repo_root().join(format!("fakes/evm-node/node_modules/@uniswap/v2-core/build/{contract}.json"));
        let artifact: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let receipt = self.send(None, format!("{}{args}", artifact["bytecode"].as_str().unwrap())).await;
        receipt["contractAddress"].as_str().unwrap().to_string()
    }

    async fn head(&self) -> u64 {
        self.rpc.block_number().await.unwrap()
    }

    /// The pair's Swap logs in blocks `0..=to`, as the node has them now.
    async fn swaps(&self, pair: &str, to: u64) -> BTreeSet<SwapKey> {
        let filter = json!([{"fromBlock": "0x0", "toBlock": format!("{to:#x}"), "address": pair, "topics": [tickwatch_model::V2_SWAP]}]);
        let logs = self.rpc.call("eth_getLogs", filter).await.unwrap();
        let index = |v: &Value| i64::from_str_radix(&v.as_str().unwrap()[2..], 16).unwrap();
        logs.as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["blockHash"].as_str().unwrap().into(),
                    l["transactionHash"].as_str().unwrap().into(),
                    index(&l["logIndex"]),
                )
            })
            .collect()
    }
}

/// A Uniswap V2 pair of two test tokens with liquidity, and its reserves as we keep them.
struct Pair {
    address: String,
    tokens: [String; 2],
    reserves: [u128; 2],
    transfer: String,
    swap: String,
}

impl Pair {
    async fn deploy(node: &Node) -> Pair {
        let supply = uint_word(1_000_000_000_000_000);
        let (a, b) = (node.deploy("ERC20", &supply).await, node.deploy("ERC20", &supply).await);
        let factory = node.deploy("UniswapV2Factory", &address_word(&node.account)).await;
        let create = node.selector("createPair(address,address)").await;
        node.send(Some(&factory), format!("{create}{}{}", address_word(&a), address_word(&b))).await;
        let get = node.selector("getPair(address,address)").await;
        let call =
            json!([{"to": factory, "data": format!("0x{get}{}{}", address_word(&a), address_word(&b))}, "latest"]);
        let word = node.rpc.call("eth_call", call).await.unwrap();
        let address = format!("0x{}", &word.as_str().unwrap()[26..]);
        // The pair's token0 is the lower address.
        let mut tokens = [a.to_ascii_lowercase(), b.to_ascii_lowercase()];
        tokens.sort();
        let mut pair = Pair {
            address,
            tokens,
            reserves: [0, 0],
            transfer: node.selector("transfer(address,uint256)").await,
            swap: node.selector("swap(uint256,uint256,address,bytes)").await,
        };
        for (side, amount) in [(0, 1_000_000_000_000), (1, 2_500_000_000_000)] {
            pair.pay(node, side, amount).await;
        }
        let mint = node.selector("mint(address)").await;
        node.send(Some(&pair.address), format!("{mint}{}", address_word(&node.account))).await;
        pair
    }

    async fn pay(&mut self, node: &Node, side: usize, amount: u128) {
        let data = format!("{}{}{}", self.transfer, address_word(&self.address), uint_word(amount));
        node.send(Some(&self.tokens[side]), data).await;
        self.reserves[side] += amount;
    }

    /// Pay `amount_in` of token `side` into the pair and take out what the constant product
    /// (with the 0.3 % fee) allows: a Sync and a Swap log in the swap's block.
    async fn swap(&mut self, node: &Node, side: usize, amount_in: u128) {
        let (r_in, r_out) = (self.reserves[side], self.reserves[1 - side]);
        let out = amount_in * 997 * r_out / (r_in * 1_000 + amount_in * 997);
        self.pay(node, side, amount_in).await;
        let outs = if side == 0 { [0, out] } else { [out, 0] };
        let data = format!(
            "{}{}{}{}{}{}",
            self.swap,
            uint_word(outs[0]),
            uint_word(outs[1]),
            address_word(&node.account),
            uint_word(0x80),
            uint_word(0)
        );
        node.send(Some(&self.address), data).await;
        self.reserves[1 - side] -= out;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ganache_swaps_and_a_forced_reorg_end_with_the_final_layer_equal_to_the_chain() {
    let node = Node::start().await;
    let mut pair = Pair::deploy(&node).await;
    let prefix = unique("evmganache");
    let symbols = format!(
        "pools: [{{chain: testnet, chain_id: {CHAIN_ID}, address: \"{}\", protocol: uniswap_v2, \
         token0: {{symbol: TKA, decimals: 18}}, token1: {{symbol: TKB, decimals: 18}}, base: token0}}]",
        pair.address
    );
    let chain = format!(
        "chain_id: {CHAIN_ID}, rpc: [\"{}\"], confirmations: {CONFIRMATIONS}, poll_ms: 150, start_block: 0",
        node.url
    );
    let pipeline = DexPipeline::start(&prefix, &symbols, &chain).await;
    let _ingest = pipeline.ingest("ingest");

    for (side, amount) in [(0, 3_000_000_000), (1, 5_000_000_000), (0, 1_000_000_000)] {
        pair.swap(&node, side, amount).await;
    }
    let snapshot = node.rpc.call("evm_snapshot", json!([])).await.unwrap();
    let kept = pair.reserves;
    for (side, amount) in [(1, 7_000_000_000), (0, 2_000_000_000)] {
        pair.swap(&node, side, amount).await;
    }
    // The two swaps reach the mixed layer as pending before their blocks leave the chain.
    let doomed = node.swaps(&pair.address, node.head().await).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mixed_sql = "SELECT block_hash, tx_hash, log_index FROM dex_swaps_mixed WHERE status = 'PENDING'";
    while pipeline.keys(mixed_sql).await.len() < 2 {
        assert!(Instant::now() < deadline, "no pending swaps; logs in target/test-logs/{prefix}-*");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(node.rpc.call("evm_revert", json!([snapshot])).await.unwrap(), json!(true));
    pair.reserves = kept;
    for (side, amount) in [(0, 4_000_000_000), (0, 1_500_000_000), (1, 9_000_000_000)] {
        pair.swap(&node, side, amount).await;
    }
    for _ in 0..CONFIRMATIONS {
        node.rpc.call("evm_mine", json!([])).await.unwrap();
    }
    let head = node.head().await;
    let canonical = node.swaps(&pair.address, head + 1 - CONFIRMATIONS).await;
    let on_chain = node.swaps(&pair.address, head).await;
    assert_eq!((canonical.len(), on_chain.len()), (6, 6));
    assert!(doomed.difference(&on_chain).count() >= 2, "the reverted swaps left the chain");
    pipeline.check_layers(&canonical, &on_chain, 2).await;
    assert!(pipeline.log("ingest").contains("reorg:"));
}
