//! A chain around the real mainnet logs of the shared fixtures.

use super::{hex, number, result, start};
use serde_json::{json, Value};
use tickwatch_fakes::evm::{Chain, NodeFaults};

/// `<repo>/../shared/fixtures/ethereum`, if this machine has it.
fn fixture_folder() -> Option<std::path::PathBuf> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/ethereum");
    folder.is_dir().then_some(folder)
}

#[tokio::test]
async fn fixture_chains_serve_the_real_logs_unchanged() {
    let Some(folder) = fixture_folder() else {
        println!("skipped: no shared/fixtures/ethereum next to the repository");
        return;
    };
    let chain = Chain::from_fixtures(&folder, 1, 5).unwrap();
    let node = start(&chain, NodeFaults::default()).await;
    let mut fixtures: Vec<Value> = Vec::new();
    for sub in ["uniswap_v2", "uniswap_v3"] {
        for entry in std::fs::read_dir(folder.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_str().unwrap().starts_with("log_") {
                fixtures.push(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
            }
        }
    }
    assert_eq!(fixtures.len(), 4);
    let numbers: Vec<u64> = fixtures.iter().map(|f| number(&f["blockNumber"])).collect();
    let (lowest, highest) = (*numbers.iter().min().unwrap(), *numbers.iter().max().unwrap());
    assert_eq!(chain.head(), highest + 5);
    assert_eq!(number(&result(&node, "eth_getBlockByNumber", json!(["earliest", false])).await["number"]), lowest - 2);
    for fixture in &fixtures {
        let logs = result(&node, "eth_getLogs", json!([{"blockHash": fixture["blockHash"]}])).await;
        assert!(logs.as_array().unwrap().contains(fixture), "{fixture} not served as is: {logs}");
        let block = result(&node, "eth_getBlockByHash", json!([fixture["blockHash"], false])).await;
        assert_eq!(block["number"], fixture["blockNumber"]);
        let next =
            result(&node, "eth_getBlockByNumber", json!([hex(number(&fixture["blockNumber"]) + 1), false])).await;
        assert_eq!(next["parentHash"], fixture["blockHash"]);
    }
    let everything = result(&node, "eth_getLogs", json!([{"fromBlock": "earliest", "toBlock": "latest"}])).await;
    let mut served = everything.as_array().unwrap().clone();
    served.sort_by_key(|l| l.to_string());
    fixtures.sort_by_key(|l| l.to_string());
    assert_eq!(served, fixtures);
    assert_eq!(chain.swaps(chain.head()).len(), 3, "two V3 swaps and one V2 swap (the Sync is not a swap)");
}
