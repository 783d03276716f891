//! How far a chain's ingestor got: the next block to read and the newest blocks with what was
//! published from them. Written (to a temporary file, then renamed) only after the broker has
//! acknowledged everything it covers, so a restart reads on from it with no gap, and follows
//! a reorg that happened while it was down by the blocks it kept.

use super::canonical::Window;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub chain_id: i64,
    /// Every block below this one was read and its logs published.
    pub next_block: u64,
    /// The newest blocks (see [`Window`]).
    #[serde(default)]
    pub window: Window,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {error}; delete it to start over (from start_block or the newest final block)")]
    Unreadable { path: String, error: String },
    #[error("checkpoint {path} belongs to chain id {found}, not {expected}; point `checkpoint` elsewhere")]
    OtherChain { path: String, found: i64, expected: i64 },
    #[error("cannot write checkpoint {path}: {error}")]
    Write { path: String, error: String },
}

impl Checkpoint {
    pub fn load(path: &Path, chain_id: i64) -> Result<Option<Checkpoint>, CheckpointError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CheckpointError::Unreadable { path: shown, error: e.to_string() }),
        };
        let cp: Checkpoint = serde_json::from_str(&text)
            .map_err(|e| CheckpointError::Unreadable { path: shown.clone(), error: e.to_string() })?;
        if cp.chain_id != chain_id {
            return Err(CheckpointError::OtherChain { path: shown, found: cp.chain_id, expected: chain_id });
        }
        Ok(Some(cp))
    }

    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let err = |e: std::io::Error| CheckpointError::Write { path: path.display().to_string(), error: e.to_string() };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).expect("a checkpoint serializes")).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_and_refuses_another_chain_or_garbage() {
        let path = std::env::temp_dir().join(format!("tw-evm-cp-{}/eth.json", std::process::id()));
        assert_eq!(Checkpoint::load(&path, 1).unwrap(), None);
        let cp = Checkpoint { chain_id: 1, next_block: 42, window: Window::default() };
        cp.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path, 1).unwrap(), Some(cp));
        assert!(Checkpoint::load(&path, 56).unwrap_err().to_string().contains("chain id 1, not 56"));
        std::fs::write(&path, "{").unwrap();
        assert!(Checkpoint::load(&path, 1).unwrap_err().to_string().contains("delete it"));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
