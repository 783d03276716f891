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
async fn a_batch_past_its_cap_gets_429_for_each_call_over_it() {
    let chain = Chain::new(spec(5), 20);
    let node = start(&chain, NodeFaults { batch_calls: Some(3), ..NodeFaults::default() }).await;
    let calls: Vec<Value> = (0..5)
        .map(|i| json!({"jsonrpc": "2.0", "id": 100 + i, "method": "eth_getBlockByNumber", "params": [hex(START + i), false]}))
        .collect();
    let (status, text) = post(&node, &Value::Array(calls)).await;
    assert_eq!(status, 200, "the request itself is answered");
    let answers: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(answers.len(), 5);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["id"], json!(100 + i), "{a}");
        if i < 3 {
            assert_eq!(a["result"]["number"], json!(hex(START + i as u64)), "{a}");
        } else {
            assert_eq!(a["error"]["code"], json!(429), "{a}");
            assert!(a["error"]["message"].as_str().unwrap().contains("at most 3 calls"), "{a}");
        }
    }
    assert_eq!(chain.requests().get("eth_getBlockByNumber"), Some(&3), "the calls over the cap are not answered");
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let chain = Chain::new(spec(5), 5);
    let node = start(&chain, NodeFaults { latency_ms: 150, ..NodeFaults::default() }).await;
    let started = Instant::now();
    result(&node, "eth_chainId", json!([])).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}
