//! The fake EVM node over real HTTP: what a JSON-RPC client sees of the synthetic chain
//! (blocks, logs, filters, batches) and of reorgs; the faults and the real fixture logs are
//! in `evm/`.

#[path = "evm/faults.rs"]
mod faults;
#[path = "evm/fixtures.rs"]
mod fixtures;

use serde_json::{json, Value};
use tickwatch_fakes::evm::{self, Chain, ChainSpec, FakePool, NodeFaults, PoolKind, ReorgStep};
use tickwatch_model::hex::to_hex;

const START: u64 = 1000;

fn pool(n: u8, kind: PoolKind, decimals0: u8, price: f64) -> FakePool {
    FakePool {
        address: format!("0x{}", format!("{n:x}").repeat(40)),
        kind,
        token0: format!("0x{}{n:02x}", "0".repeat(38)),
        token1: format!("0x{}{n:02x}", "f".repeat(38)),
        decimals0,
        decimals1: 18,
        price,
    }
}

fn spec(seed: u64) -> ChainSpec {
    ChainSpec {
        chain_id: 1,
        seed,
        start_block: START,
        start_time_s: 1_700_000_000,
        block_time_s: 12,
        pools: vec![
            pool(1, PoolKind::UniswapV2, 18, 1.4e-10),
            pool(2, PoolKind::UniswapV3, 6, 0.00032),
            pool(3, PoolKind::PancakeswapV2, 18, 600.0),
            pool(4, PoolKind::PancakeswapV3, 8, 15.0),
        ],
        max_swaps_per_block: 4,
    }
}

/// A served node and one HTTP client for it (a client per request costs ~50 ms).
struct Node {
    url: String,
    http: reqwest::Client,
}

async fn start(chain: &Chain, faults: NodeFaults) -> Node {
    let addr = evm::serve("127.0.0.1:0", chain.clone(), faults).await.unwrap();
    Node { url: format!("http://{addr}/"), http: reqwest::Client::new() }
}

/// POST `body`; (HTTP status, body text).
async fn post(node: &Node, body: &Value) -> (u16, String) {
    let response = node.http.post(&node.url).json(body).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// One call; the whole JSON-RPC response object.
async fn call(node: &Node, method: &str, params: Value) -> Value {
    let (status, text) = post(node, &json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})).await;
    assert_eq!(status, 200, "{method}: {text}");
    let reply: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((&reply["jsonrpc"], &reply["id"]), (&json!("2.0"), &json!(7)));
    reply
}

async fn result(node: &Node, method: &str, params: Value) -> Value {
    let reply = call(node, method, params).await;
    assert!(reply.get("error").is_none(), "{method}: {reply}");
    reply["result"].clone()
}

async fn error_code(node: &Node, method: &str, params: Value) -> (i64, String) {
    let reply = call(node, method, params).await;
    let error = &reply["error"];
    (error["code"].as_i64().unwrap_or_else(|| panic!("{reply}")), error["message"].as_str().unwrap().to_string())
}

fn hex(n: u64) -> String {
    format!("{n:#x}")
}

fn number(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test]
async fn chain_id_head_and_parent_links() {
    let chain = Chain::new(spec(42), 20);
    let node = start(&chain, NodeFaults::default()).await;
    assert_eq!(result(&node, "eth_chainId", json!([])).await, "0x1");
    assert_eq!(chain.head(), START + 19);
    assert_eq!(result(&node, "eth_blockNumber", json!([])).await, hex(START + 19));
    let mut previous: Option<Value> = None;
    for n in START..=chain.head() {
        let block = result(&node, "eth_getBlockByNumber", json!([hex(n), false])).await;
        assert_eq!(block["hash"].as_str(), chain.block_hash(n).as_deref());
        assert_eq!(number(&block["number"]), n);
        if let Some(parent) = &previous {
            assert_eq!(block["parentHash"], parent["hash"], "block {n}");
            assert_eq!(number(&block["timestamp"]), number(&parent["timestamp"]) + 12);
        }
        assert_eq!(result(&node, "eth_getBlockByHash", json!([block["hash"], false])).await, block);
        previous = Some(block);
    }
    assert_eq!(result(&node, "eth_getBlockByNumber", json!(["latest", false])).await, previous.unwrap());
    assert_eq!(number(&result(&node, "eth_getBlockByNumber", json!(["earliest", false])).await["number"]), START);
    let finalized = result(&node, "eth_getBlockByNumber", json!(["finalized", false])).await;
    assert_eq!(number(&finalized["number"]), START, "64 blocks back, clamped to the first block");
    assert_eq!(result(&node, "eth_getBlockByNumber", json!([hex(START + 20), false])).await, Value::Null);
    assert_eq!(error_code(&node, "eth_subscribe", json!(["newHeads"])).await.0, -32601);
}

#[tokio::test]
async fn get_logs_serves_exactly_the_swaps_and_their_syncs() {
    let chain = Chain::new(spec(42), 40);
    let node = start(&chain, NodeFaults::default()).await;
    let swaps = chain.swaps(chain.head());
    assert!(swaps.len() > 30, "{} swaps", swaps.len());
    let all = result(&node, "eth_getLogs", json!([{"fromBlock": hex(START), "toBlock": "latest"}])).await;
    let all = all.as_array().unwrap();
    let served_swaps: Vec<&Value> = all.iter().filter(|l| evm::is_swap(l["topics"][0].as_str().unwrap())).collect();
    assert_eq!(served_swaps.len(), swaps.len());
    for (log, swap) in served_swaps.iter().zip(&swaps) {
        assert_eq!(number(&log["blockNumber"]), swap.block_number);
        assert_eq!(
            (log["blockHash"].as_str().unwrap(), log["transactionHash"].as_str().unwrap()),
            (&*swap.block_hash, &*swap.tx_hash)
        );
        assert_eq!((number(&log["logIndex"]), log["address"].as_str().unwrap()), (swap.log_index, &*swap.address));
        assert_eq!((log["topics"].clone(), log["data"].as_str().unwrap()), (json!(swap.topics), &*to_hex(&swap.data)));
        assert_eq!(log["removed"], false);
    }
    let v2_swaps = swaps.iter().filter(|s| s.topics[0] == evm::V2_SWAP).count();
    let syncs: Vec<&Value> = all.iter().filter(|l| l["topics"][0] == evm::V2_SYNC).collect();
    assert!(v2_swaps > 0 && syncs.len() == v2_swaps && all.len() == swaps.len() + v2_swaps);
    // Each V2 Swap follows its Sync in the same transaction, at the next log index.
    for (i, log) in all.iter().enumerate().filter(|(_, l)| l["topics"][0] == evm::V2_SWAP) {
        let sync = &all[i - 1];
        assert_eq!((&sync["topics"][0], &sync["transactionHash"]), (&json!(evm::V2_SYNC), &log["transactionHash"]));
        assert_eq!(number(&sync["logIndex"]) + 1, number(&log["logIndex"]));
    }
    // Prices walk in small steps per pool: under 2 % a swap (V2 from Sync, V3 from sqrtPriceX96).
    let low_word = |log: &Value, i: usize| {
        let data = log["data"].as_str().unwrap();
        u128::from_str_radix(&data[2 + 64 * i + 32..2 + 64 * (i + 1)], 16).unwrap() as f64
    };
    let mut last_price = std::collections::BTreeMap::new();
    for log in all {
        let price = match log["topics"][0].as_str().unwrap() {
            evm::V2_SYNC => low_word(log, 1) / low_word(log, 0),
            evm::V3_SWAP | evm::PANCAKE_V3_SWAP => low_word(log, 2).powi(2),
            _ => continue,
        };
        if let Some(before) = last_price.insert(log["address"].to_string(), price) {
            assert!((0.98..1.02).contains(&(price / before)), "{before} -> {price} at {log}");
        }
    }
    assert_eq!(last_price.len(), 4, "every pool traded");
    // Address filter, in any case, and a topic filter with alternatives.
    let pool2 = spec(42).pools[1].address.to_uppercase().replace("0X", "0x");
    let by_address = result(&node, "eth_getLogs", json!([{"fromBlock": hex(START), "address": [pool2]}])).await;
    let expected = swaps.iter().filter(|s| s.topics[0] == evm::V3_SWAP).count();
    assert_eq!(by_address.as_array().unwrap().len(), expected);
    assert!(expected > 0);
    let topics = json!([[evm::V3_SWAP, evm::PANCAKE_V3_SWAP]]);
    let v3 = result(&node, "eth_getLogs", json!([{"fromBlock": hex(START), "topics": topics}])).await;
    let v3_swaps = swaps.iter().filter(|s| s.topics[0] != evm::V2_SWAP).count();
    assert_eq!(v3.as_array().unwrap().len(), v3_swaps);
    let trader_topic = swaps[0].topics[2].clone();
    let by_trader =
        result(&node, "eth_getLogs", json!([{"fromBlock": hex(START), "topics": [null, null, trader_topic]}])).await;
    let expected = swaps.iter().filter(|s| s.topics[2] == trader_topic).count();
    assert_eq!(by_trader.as_array().unwrap().len(), expected);
    assert!(expected < swaps.len(), "swaps come from several traders");
    assert_eq!(chain.requests().get("eth_getLogs"), Some(&4));
}

#[tokio::test]
async fn batches_and_block_hash_filters() {
    let chain = Chain::new(spec(3), 10);
    let node = start(&chain, NodeFaults::default()).await;
    let busy = chain.swaps(chain.head()).last().unwrap().clone();
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": "two", "method": "eth_getLogs", "params": [{"blockHash": busy.block_hash}]},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getLogs",
         "params": [{"fromBlock": hex(busy.block_number), "toBlock": hex(busy.block_number)}]},
        {"jsonrpc": "2.0", "id": 4, "method": "eth_nope"},
    ]);
    let (status, text) = post(&node, &batch).await;
    let replies: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        replies.as_array().unwrap().iter().map(|r| r["id"].clone()).collect::<Vec<_>>(),
        [json!(1), json!("two"), json!(3), json!(4)]
    );
    assert_eq!(replies[0]["result"], "0x1");
    let by_hash = replies[1]["result"].as_array().unwrap();
    assert!(by_hash.iter().any(|l| l["transactionHash"] == busy.tx_hash.as_str()));
    assert_eq!(replies[1]["result"], replies[2]["result"]);
    assert_eq!(replies[3]["error"]["code"], -32601);
    let unknown = format!("0x{}", "ab".repeat(32));
    assert_eq!(
        error_code(&node, "eth_getLogs", json!([{"blockHash": unknown}])).await,
        (-32000, "unknown block".into())
    );
    let (status, text) = post(&node, &json!("not a call")).await;
    assert!(status == 200 && text.contains("-32600"), "{text}");
}

#[tokio::test]
async fn a_reorg_orphans_the_old_blocks_and_links_the_new_ones_to_the_ancestor() {
    let chain = Chain::new(spec(42), 30);
    let node = start(&chain, NodeFaults::default()).await;
    let head = chain.head();
    let old: Vec<String> = (head - 2..=head).map(|n| chain.block_hash(n).unwrap()).collect();
    let ancestor = chain.block_hash(head - 3).unwrap();
    let old_txs: Vec<String> =
        chain.swaps(head).into_iter().filter(|s| s.block_number > head - 3).map(|s| s.tx_hash).collect();
    chain.reorg(3, 4);
    assert_eq!(chain.head(), head + 1);
    assert_eq!(result(&node, "eth_blockNumber", json!([])).await, hex(head + 1));
    for hash in &old {
        assert_eq!(result(&node, "eth_getBlockByHash", json!([hash, false])).await, Value::Null);
        assert_eq!(error_code(&node, "eth_getLogs", json!([{"blockHash": hash}])).await.0, -32000);
    }
    let first_new = result(&node, "eth_getBlockByNumber", json!([hex(head - 2), false])).await;
    assert_eq!(first_new["parentHash"], ancestor.as_str());
    assert_eq!(chain.block_hash(head - 3).unwrap(), ancestor);
    for n in head - 2..=head + 1 {
        let hash = chain.block_hash(n).unwrap();
        assert!(!old.contains(&hash), "block {n} kept an orphaned hash");
        let block = result(&node, "eth_getBlockByHash", json!([hash, false])).await;
        assert_eq!(number(&block["number"]), n);
    }
    let new_swaps: Vec<_> = chain.swaps(chain.head()).into_iter().filter(|s| s.block_number > head - 3).collect();
    assert!(new_swaps.iter().any(|s| old_txs.contains(&s.tx_hash)), "some orphaned swaps are mined again");
    assert!(new_swaps.iter().any(|s| !old_txs.contains(&s.tx_hash)), "and new ones come: {new_swaps:?}");
    // The same spec mines the same chain: a reorg is the only difference.
    let twin = Chain::new(spec(42), 30);
    assert_eq!(twin.block_hash(head - 3), Some(ancestor));
    assert_eq!(twin.block_hash(head), Some(old[2].clone()));
    assert_ne!(Chain::new(spec(43), 30).swaps(head), twin.swaps(head));
}

#[tokio::test]
async fn range_errors_match_the_conformance_tests() {
    let chain = Chain::new(spec(1), 50);
    let node = start(&chain, NodeFaults::default()).await;
    let future = json!([{"fromBlock": hex(START + 40), "toBlock": hex(START + 60)}]);
    assert_eq!(
        error_code(&node, "eth_getLogs", future).await,
        (-32602, "block range extends beyond current head block".into())
    );
    let reversed = json!([{"fromBlock": hex(START + 40), "toBlock": hex(START + 30)}]);
    assert_eq!(error_code(&node, "eth_getLogs", reversed).await, (-32602, "invalid block range params".into()));
}

#[tokio::test]
async fn eth_call_answers_tokens_and_decimals_and_reverts_otherwise() {
    let chain = Chain::new(spec(5), 2);
    let node = start(&chain, NodeFaults::default()).await;
    let v3 = &spec(5).pools[1];
    let ask = |to: &str, data: &str| json!([{"to": to, "data": data}, "latest"]);
    let token0 = result(&node, "eth_call", ask(&v3.address, "0x0dfe1681")).await;
    assert_eq!(token0, format!("0x{}{}", "0".repeat(24), &v3.token0[2..]));
    let token1 = result(&node, "eth_call", ask(&v3.address, "0xd21220a7")).await;
    assert_eq!(token1, format!("0x{}{}", "0".repeat(24), &v3.token1[2..]));
    assert_eq!(number(&result(&node, "eth_call", ask(&v3.token0, "0x313ce567")).await), 6);
    assert_eq!(number(&result(&node, "eth_call", ask(&v3.token1, "0x313ce567")).await), 18);
    assert_eq!(error_code(&node, "eth_call", ask(&v3.address, "0x313ce567")).await, (3, "execution reverted".into()));
    let registered = FakePool { address: format!("0x{}", "9".repeat(40)), ..spec(5).pools[0].clone() };
    chain.register_pool(registered.clone());
    assert_eq!(
        result(&node, "eth_call", ask(&registered.address, "0x0dfe1681")).await,
        format!("0x{}{}", "0".repeat(24), &registered.token0[2..])
    );
}

#[tokio::test]
async fn a_driven_chain_mines_and_reorgs_on_script() {
    let chain = Chain::new(spec(9), 5);
    let step = ReorgStep { at_head: START + 8, depth: 2, new_blocks: 3 };
    evm::drive(chain.clone(), 5, vec![step], Some(START + 12)).await;
    assert_eq!(chain.head(), START + 12);
    let straight = Chain::new(spec(9), 13);
    assert_eq!(chain.block_hash(START + 6), straight.block_hash(START + 6));
    assert_ne!(chain.block_hash(START + 7), straight.block_hash(START + 7), "the reorg replaced block 7");
}
