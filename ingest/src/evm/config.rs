//! What the user writes for the EVM ingestor: `config/chains.yaml`, one entry per chain
//! (documented field by field in the sample file). The pools to watch come from the symbols
//! file (`pools`, by chain id).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tickwatch_runtime::config_error::{check_http_url, load_yaml, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainsFile {
    pub chains: BTreeMap<String, ChainConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// EIP-155 chain id; the node must say the same.
    pub chain_id: i64,
    /// JSON-RPC endpoints, tried in turn when one fails.
    pub rpc: Vec<String>,
    /// Blocks (the block itself included) before its logs are final.
    #[serde(default = "twelve")]
    pub confirmations: u64,
    /// How often the head is polled (ms).
    #[serde(default = "poll_ms")]
    pub poll_ms: u64,
    /// Most blocks asked for in one `eth_getLogs`; halved while the node refuses a range.
    #[serde(default = "max_block_range")]
    pub max_block_range: u64,
    /// Requests per second over all endpoints.
    #[serde(default = "requests_per_second")]
    pub requests_per_second: f64,
    /// Where a first run starts (no checkpoint yet); default: the newest final block.
    #[serde(default)]
    pub start_block: Option<u64>,
    /// The checkpoint: the next block to read and the blocks kept to follow reorgs.
    #[serde(default)]
    pub checkpoint: Option<PathBuf>,
}

fn twelve() -> u64 {
    12
}
fn poll_ms() -> u64 {
    2_000
}
fn max_block_range() -> u64 {
    500
}
fn requests_per_second() -> f64 {
    10.0
}

impl ChainsFile {
    pub fn load(path: &Path) -> Result<ChainsFile, ConfigError> {
        let file: ChainsFile = load_yaml(path)?;
        for (name, c) in &file.chains {
            let field = |f: &str| format!("chains.{name}.{f}");
            if c.rpc.is_empty() {
                return Err(ConfigError::field(path, field("rpc"), "list at least one JSON-RPC endpoint URL"));
            }
            for (i, url) in c.rpc.iter().enumerate() {
                check_http_url(path, &field(&format!("rpc[{i}]")), url)?;
            }
            if c.confirmations == 0 || c.max_block_range == 0 || c.poll_ms == 0 {
                let f = if c.confirmations == 0 {
                    "confirmations"
                } else if c.poll_ms == 0 {
                    "poll_ms"
                } else {
                    "max_block_range"
                };
                return Err(ConfigError::field(path, field(f), "must be at least 1"));
            }
            if c.requests_per_second.is_nan() || c.requests_per_second <= 0.0 {
                return Err(ConfigError::field(path, field("requests_per_second"), "must be positive"));
            }
        }
        Ok(file)
    }

    /// The chain called `name`, or an error naming the chains there are.
    pub fn chain(&self, path: &Path, name: &str) -> Result<&ChainConfig, ConfigError> {
        self.chains.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.chains.keys().map(String::as_str).collect();
            ConfigError::field(path, "chains", format!("no chain `{name}` (configured: {}); add it", known.join(", ")))
        })
    }
}

impl ChainConfig {
    /// The checkpoint path of chain `name`.
    pub fn checkpoint_path(&self, name: &str) -> PathBuf {
        self.checkpoint.clone().unwrap_or_else(|| PathBuf::from(format!(".tickwatch/evm/{name}.json")))
    }

    /// How many of the newest blocks are kept to follow reorgs: twice the confirmations, so
    /// a reorg somewhat deeper than the final depth still retracts what it orphaned.
    pub fn kept_blocks(&self) -> u64 {
        (2 * self.confirmations).max(4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ChainsFile, String> {
        let path = std::env::temp_dir().join(format!("tw-chains-{}-{}.yaml", std::process::id(), text.len()));
        std::fs::write(&path, text).unwrap();
        let out = ChainsFile::load(&path).map_err(|e| e.to_string());
        std::fs::remove_file(path).unwrap();
        out
    }

    #[test]
    fn defaults_apply_and_mistakes_name_the_field() {
        let f = load("chains:\n  ethereum: {chain_id: 1, rpc: [\"http://127.0.0.1:8545\"]}\n").unwrap();
        let c = &f.chains["ethereum"];
        assert_eq!((c.confirmations, c.max_block_range, c.poll_ms, c.kept_blocks()), (12, 500, 2_000, 24));
        let e = load("chains:\n  ethereum: {chain_id: 1, rpc: []}\n").unwrap_err();
        assert!(e.contains("chains.ethereum.rpc") && e.contains("at least one"), "{e}");
        let e = load("chains:\n  bsc: {chain_id: 56, rpc: [\"ws://x\"]}\n").unwrap_err();
        assert!(e.contains("chains.bsc.rpc[0]"), "{e}");
        let e = load("chains:\n  bsc: {chain_id: 56, rpc: [\"http://x:1\"], confirmations: 0}\n").unwrap_err();
        assert!(e.contains("chains.bsc.confirmations"), "{e}");
        let e = load("chains:\n  bsc: {chain_id: 56, rpc: [\"http://x:1\"], confirms: 3}\n").unwrap_err();
        assert!(e.contains("confirms"), "{e}");
    }
}
