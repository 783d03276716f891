//! The faults a node shows on purpose: provider limits, pruning, 503s, 429s, latency.

use super::{error_code, hex, post, result, spec, start, START};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tickwatch_fakes::evm::{Chain, NodeFaults};

#[tokio::test]
async fn provider_limits_answer_with_their_errors() {
    let chain = Chain::new(spec(5), 50);
    let faults = NodeFaults { max_block_range: Some(10), pruned_below: Some(START + 5), ..NodeFaults::default() };
    let node = start(&chain, faults).await;
    let (code, message) =
        error_code(&node, "eth_getLogs", json!([{"fromBlock": hex(START + 10), "toBlock": hex(START + 20)}])).await;
    assert_eq!(code, -32005);
    assert!(message.contains("10"), "{message}");
    let ten = result(&node, "eth_getLogs", json!([{"fromBlock": hex(START + 10), "toBlock": hex(START + 19)}])).await;
    assert!(ten.is_array());
    let pruned =
        error_code(&node, "eth_getLogs", json!([{"fromBlock": hex(START + 4), "toBlock": hex(START + 8)}])).await;
    assert_eq!(pruned, (4444, "Pruned history unavailable".into()));
    assert_eq!(error_code(&node, "eth_getBlockByNumber", json!(["earliest", false])).await.0, 4444);
    assert!(result(&node, "eth_getBlockByNumber", json!([hex(START + 5), false])).await.is_object());
}

#[tokio::test]
async fn a_flaky_endpoint_fails_every_third_request_with_503() {
    let chain = Chain::new(spec(5), 5);
    let node = start(&chain, NodeFaults { fail_every: Some(3), ..NodeFaults::default() }).await;
    let ask = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"});
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(post(&node, &ask).await.0);
    }
    assert_eq!(statuses, [200, 200, 503, 200, 200, 503]);
    assert_eq!(chain.requests().get("eth_blockNumber"), Some(&4), "refused requests are not answered");
}

#[tokio::test]
async fn over_the_rate_limit_requests_get_429_with_a_json_rpc_error() {
    let chain = Chain::new(spec(5), 5);
    let node = start(&chain, NodeFaults { requests_per_second: Some(5), ..NodeFaults::default() }).await;
    let ask = json!({"jsonrpc": "2.0", "id": 9, "method": "eth_blockNumber"});
    let mut refused = Vec::new();
    for _ in 0..12 {
        let (status, text) = post(&node, &ask).await;
        if status == 429 {
            refused.push(serde_json::from_str::<Value>(&text).unwrap());
        }
    }
    // 12 quick requests span at most two one-second windows of 5.
    assert!(refused.len() >= 2, "{} refused", refused.len());
    assert_eq!((&refused[0]["error"]["code"], &refused[0]["id"]), (&json!(-32005), &json!(9)));
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let chain = Chain::new(spec(5), 5);
    let node = start(&chain, NodeFaults { latency_ms: 150, ..NodeFaults::default() }).await;
    let started = Instant::now();
    result(&node, "eth_chainId", json!([])).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}
