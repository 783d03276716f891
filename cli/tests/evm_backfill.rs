//! `tickwatch evm backfill` over the fake node serving the real mainnet logs of
//! `../shared/fixtures/ethereum` in their real blocks: the watched pools' logs (config
//! symbols: Uniswap V3 USDC/WETH and V2 PEPE/WETH) reach `raw.dex` byte for byte, confirmed,
//! keyed by pool, at their block's time, through the node's limits (a range too large, HTTP
//! 429); a second run over a longer range resumes from the first one's checkpoint, with no log
//! missing and none twice; a node that pruned the range stops it with the way out.

mod common;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};
use tickwatch_fakes::evm::{serve, Chain, NodeFaults};
use tickwatch_model::hex::{hex_bytes, to_hex};
use tickwatch_model::{wire, AvroRecord, RawDexLog, SwapStatus};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_testkit::{fixtures, stack, unique};

/// (block hash, log index) → (address, topics, data, tx hash): what the node says of a log.
type Logs = BTreeMap<(String, i64), (String, Vec<String>, String, String)>;

/// The fixture logs of the pools in `config/symbols.yaml`, with their block numbers.
fn fixture_logs(folder: &std::path::Path) -> (Logs, Vec<u64>) {
    let watched = ["0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640", "0xa43fe16908251ee70ef74718545e4fe6c5ccec9f"];
    let (mut logs, mut blocks) = (Logs::new(), Vec::new());
    for dir in ["uniswap_v2", "uniswap_v3"] {
        for entry in std::fs::read_dir(folder.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if !path.file_name().unwrap().to_str().unwrap().starts_with("log_") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
                let v = v.unwrap();
                let s = |f: &str| v[f].as_str().unwrap().to_ascii_lowercase();
                if !watched.contains(&s("address").as_str()) {
                    continue;
                }
                let n = |f: &str| u64::from_str_radix(&s(f)[2..], 16).unwrap();
                blocks.push(n("blockNumber"));
                let topics =
                    v["topics"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_ascii_lowercase()).collect();
                let data = to_hex(&hex_bytes(&s("data")).unwrap());
                logs.insert((s("blockHash"), n("logIndex") as i64), (s("address"), topics, data, s("transactionHash")));
            }
        }
    }
    blocks.sort();
    (logs, blocks)
}

fn backfill(settings: &std::path::Path, args: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .arg("--config")
        .arg(settings)
        .args(args.split_whitespace())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_logs_are_backfilled_once_byte_for_byte_and_a_second_run_resumes() {
    let Some(fixtures) = fixtures() else { return };
    let folder = fixtures.join("ethereum");
    let (expected, blocks) = fixture_logs(&folder);
    assert!(expected.len() >= 3, "{} watched logs in the fixtures", expected.len());
    let s = stack();
    let prefix = unique("evmbf");
    let chain = Chain::from_fixtures(&folder, 1, 40).unwrap();
    // The node refuses more than 100 000 blocks a query and more than 4 requests a second.
    let faults = NodeFaults { max_block_range: Some(100_000), requests_per_second: Some(4), ..NodeFaults::default() };
    let addr = serve("127.0.0.1:0", chain.clone(), faults).await.unwrap();
    let chains = std::env::temp_dir().join(format!("{prefix}-chains.yaml"));
    std::fs::write(&chains, format!("chains:\n  ethereum: {{chain_id: 1, rpc: [\"http://{addr}/\"], max_block_range: 150000, requests_per_second: 1000}}\n")).unwrap();
    let spec = TopicSpec { name: format!("{prefix}.raw.dex"), partitions: 1, replication: 1, configs: vec![] };
    broker::create_topics(&s.broker(), &[spec]).await.unwrap();

    let (first, last) = (blocks[0] - 1, *blocks.last().unwrap());
    let checkpoint = std::env::temp_dir().join(format!("{prefix}-cp.json"));
    let args = |to: u64| {
        format!(
            "evm backfill --chain ethereum --chains {} --from-block {first} --to-block {to} --topic-prefix {prefix}. --checkpoint {}",
            chains.display(),
            checkpoint.display()
        )
    };
    let out = backfill(&s.settings_path, &args(blocks[0]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = backfill(&s.settings_path, &args(last));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (said, progress) = (text(&out.stdout), text(&out.stderr));
    assert!(progress.contains(&format!("resuming at block {}", blocks[0] + 1)), "{progress}");
    assert!(progress.contains(&format!("100% {}/{} blocks", last - first + 1, last - first + 1)), "{progress}");
    assert!(said.starts_with("backfilled ") && said.contains(&format!("into {prefix}.raw.dex")), "{said}");
    assert!(
        progress.contains("HTTP 429 Too Many Requests") && progress.contains("refused the block range"),
        "{progress}"
    );
    // Past the final blocks: refused with the block to stop at.
    let too_far = backfill(&s.settings_path, &args(chain.head()));
    assert!(
        !too_far.status.success() && text(&too_far.stderr).contains("is not final yet"),
        "{}",
        text(&too_far.stderr)
    );

    let c: BaseConsumer = broker::client_config(&s.broker()).set("group.id", unique("reader")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&format!("{prefix}.raw.dex"), 0, Offset::Offset(0)).unwrap();
    c.assign(&tpl).unwrap();
    let (mut got, mut last_seen) = (Logs::new(), Instant::now());
    while last_seen.elapsed() < Duration::from_secs(3) {
        let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
        let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
        let log = RawDexLog::from_avro(datum).unwrap();
        assert_eq!(log.status, SwapStatus::Confirmed, "a backfill publishes final blocks");
        assert_eq!(m.key().unwrap(), log.address.as_bytes(), "keyed by pool");
        assert_eq!(m.timestamp().to_millis().unwrap(), log.block_time_us / 1000, "the block's time on the broker");
        assert_eq!(chain.block_hash(log.block_number as u64).as_deref(), Some(log.block_hash.as_str()));
        let said = (log.address.clone(), log.topics.clone(), to_hex(&log.data), log.tx_hash.clone());
        assert!(
            got.insert((log.block_hash.clone(), log.log_index), said).is_none(),
            "log {} {} twice",
            log.block_hash,
            log.log_index
        );
        last_seen = Instant::now();
    }
    assert_eq!(got, expected, "every watched log of the range, once, as the node said it");

    // A node that no longer keeps the range: the backfill stops and says where to go.
    let pruned = NodeFaults { pruned_below: Some(last), ..NodeFaults::default() };
    let addr = serve("127.0.0.1:0", chain.clone(), pruned).await.unwrap();
    std::fs::write(&chains, format!("chains:\n  ethereum: {{chain_id: 1, rpc: [\"http://{addr}/\"]}}\n")).unwrap();
    std::fs::remove_file(&checkpoint).unwrap();
    let out = backfill(&s.settings_path, &args(last));
    let err = text(&out.stderr);
    assert!(!out.status.success() && err.contains("pruned history unavailable") && err.contains("archive"), "{err}");
}
