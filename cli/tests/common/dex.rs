//! What the DEX tests share: a pipeline of their own (database, symbols and chains files,
//! topics, the real `tw-dex.wasm` in the transform host, the ClickHouse writer), the EVM
//! ingestor started and stopped at will, and the swap keys of the tables.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::Settings;
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{repo_root, stack, ChildGuard};

/// (block hash, tx hash, log index): a swap's place on its chain.
pub type SwapKey = (String, String, i64);

pub struct DexPipeline {
    pub prefix: String,
    pub settings: PathBuf,
    pub chains: PathBuf,
    pub ch: ClickHouse,
    _host: ChildGuard,
    _sink: ChildGuard,
}

/// Settings with their own database and symbols file (`symbols_yaml`), and a chains file of
/// one chain `testnet` (`chain`: the rest of its flow-style entry).
pub fn files(prefix: &str, symbols_yaml: &str, chain: &str) -> (PathBuf, PathBuf) {
    let s = stack();
    let settings = settings_with_clickhouse(s, &s.settings.clickhouse.url, &prefix.replace('-', "_"));
    let symbols = std::env::temp_dir().join(format!("{prefix}-symbols.yaml"));
    std::fs::write(&symbols, symbols_yaml).unwrap();
    let text = std::fs::read_to_string(&settings).unwrap();
    let text = text.replace(&s.settings.files.symbols.display().to_string(), &symbols.display().to_string());
    std::fs::write(&settings, text).unwrap();
    let chains = std::env::temp_dir().join(format!("{prefix}-chains.yaml"));
    let checkpoint = std::env::temp_dir().join(format!("{prefix}-checkpoint.json"));
    let entry = format!("chains:\n  testnet: {{{chain}, checkpoint: \"{}\"}}\n", checkpoint.display());
    std::fs::write(&chains, entry).unwrap();
    (settings, chains)
}

impl DexPipeline {
    /// Migrate, create the topics, start the transform host and the ClickHouse writer.
    pub async fn start(prefix: &str, symbols_yaml: &str, chain: &str) -> DexPipeline {
        let (settings, chains) = files(prefix, symbols_yaml, chain);
        let migrate = std::process::Command::new(env!("CARGO_BIN_EXE_tickwatch"))
            .arg("--config")
            .arg(&settings)
            .arg("migrate")
            .output()
            .unwrap();
        assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
        let specs: Vec<TopicSpec> = ["raw.dex", "dex.swaps", "raw.dex.quarantine"]
            .iter()
            .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 2, replication: 1, configs: vec![] })
            .collect();
        broker::create_topics(&stack().broker(), &specs).await.unwrap();
        let wasm = repo_root().join("target/wasm32-wasip1/wasm/tw-dex.wasm");
        assert!(wasm.exists(), "{} is missing: run `make transforms` first", wasm.display());
        let p = format!("{prefix}.");
        let host = format!(
            "transform run --wasm {} --input {p}raw.dex --output {p}dex.swaps --output {p}raw.dex.quarantine \
             --group {p}host --metrics-listen 127.0.0.1:0 --env",
            wasm.display()
        );
        let mut host: Vec<String> = host.split_whitespace().map(String::from).collect();
        host.push(format!("TW_SYMBOLS={symbols_yaml}"));
        let sinks = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
        std::fs::write(&sinks, "clickhouse: {topics: [dex.swaps, raw.dex.quarantine], batch_ms: 200}\n").unwrap();
        let sink = format!(
            "sink clickhouse --sinks {} --topic-prefix {p} --group {p}sink --metrics-listen 127.0.0.1:0",
            sinks.display()
        );
        let sink: Vec<String> = sink.split_whitespace().map(String::from).collect();
        DexPipeline {
            prefix: prefix.into(),
            _host: super::spawn(&settings, prefix, "host", &host),
            _sink: super::spawn(&settings, prefix, "sink", &sink),
            ch: ClickHouse::new(&Settings::load(&settings).unwrap().clickhouse),
            settings,
            chains,
        }
    }

    /// `tickwatch evm ingest --chain testnet`, its log in `<prefix>-<name>.log`.
    pub fn ingest(&self, name: &str) -> ChildGuard {
        let args = format!(
            "evm ingest --chain testnet --chains {} --topic-prefix {}. --metrics-listen 127.0.0.1:0",
            self.chains.display(),
            self.prefix
        );
        super::spawn(&self.settings, &self.prefix, name, &args.split_whitespace().collect::<Vec<_>>())
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(repo_root().join(format!("target/test-logs/{}-{name}.log", self.prefix))).unwrap()
    }

    /// The swap keys `sql` selects (block_hash, tx_hash, log_index).
    pub async fn keys(&self, sql: &str) -> BTreeSet<SwapKey> {
        let rows = self.ch.query_rows(sql).await.unwrap();
        let index = |v: &serde_json::Value| v.as_str().map_or_else(|| v.as_i64().unwrap(), |t| t.parse().unwrap());
        rows.iter()
            .map(|r| {
                (
                    r["block_hash"].as_str().unwrap().into(),
                    r["tx_hash"].as_str().unwrap().into(),
                    index(&r["log_index"]),
                )
            })
            .collect()
    }

    /// Once every block is final: the final layer equals `canonical` (within two minutes),
    /// the mixed layer holds nothing but `on_chain`, the orphaned swaps are on record as
    /// retracted (at least `min_retracted`), and the transform refused nothing.
    pub async fn check_layers(
        &self,
        canonical: &BTreeSet<SwapKey>,
        on_chain: &BTreeSet<SwapKey>,
        min_retracted: usize,
    ) {
        let final_sql = "SELECT block_hash, tx_hash, log_index FROM dex_swaps_final";
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut in_final = self.keys(final_sql).await;
        while &in_final != canonical && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            in_final = self.keys(final_sql).await;
        }
        let missing: Vec<_> = canonical.difference(&in_final).take(3).collect();
        let orphans: Vec<_> = in_final.difference(canonical).take(3).collect();
        assert!(
            &in_final == canonical,
            "final layer: {} rows for {} canonical swaps; missing {missing:?}, orphans {orphans:?}; logs in target/test-logs/{}-*",
            in_final.len(),
            canonical.len(),
            self.prefix
        );
        let mixed = self.keys("SELECT block_hash, tx_hash, log_index FROM dex_swaps_mixed").await;
        assert!(mixed.is_subset(on_chain) && mixed.is_superset(canonical), "the mixed layer holds no orphaned swap");
        let retracted =
            self.keys("SELECT block_hash, tx_hash, log_index FROM dex_swaps WHERE status = 'RETRACTED'").await;
        assert!(
            retracted.len() >= min_retracted && retracted.is_disjoint(on_chain),
            "{} retracted rows, some on the chain: {:?}",
            retracted.len(),
            retracted.intersection(on_chain).next()
        );
        let quarantined = self.ch.query_rows("SELECT count() AS n FROM quarantine").await.unwrap();
        assert_eq!(quarantined[0]["n"].to_string().trim_matches('"'), "0", "no swap was refused by the transform");
    }
}
