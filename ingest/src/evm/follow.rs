//! Following a chain: poll the head, check that the newest kept block is still canonical
//! (else retract what the reorg orphaned and read again from the common ancestor), read the
//! new blocks' pool logs range by range, publish them as pending (or confirmed when already
//! final), and restate kept blocks as confirmed once deep enough. A backfill is the same
//! reading over a fixed range of final blocks, nothing kept.

use super::canonical::{is_confirmed, TrackedBlock, Versions, Window};
use super::checkpoint::{Checkpoint, CheckpointError};
use super::config::ChainConfig;
use super::metrics::EvmMetrics;
use super::pools::WatchedPools;
use super::publish::{status_name, DexPublishError, DexPublisher};
use super::rpc::{LogFilter, RpcClient, RpcError};
use super::wire::{EvmLog, Header};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tickwatch_model::{RawDexLog, SwapStatus};
use tickwatch_runtime::produce::now_us;

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error(transparent)]
    Publish(#[from] DexPublishError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A block or log changed between two requests: the next poll checks for a reorg.
    #[error("the chain moved while it was read: {0}")]
    Moved(String),
}

/// What a follower reads: the live chain (kept blocks, reorgs followed) or a backfill of
/// final blocks up to `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Live,
    Backfill { until: u64 },
}

pub struct Follower {
    pub chain: String,
    cfg: ChainConfig,
    rpc: RpcClient,
    pools: WatchedPools,
    filter: LogFilter,
    publisher: DexPublisher,
    metrics: Arc<EvmMetrics>,
    checkpoint: PathBuf,
    reach: Reach,
    window: Window,
    next: u64,
    range: u64,
    versions: Versions,
}

pub struct FollowerParts {
    pub chain: String,
    pub cfg: ChainConfig,
    pub rpc: RpcClient,
    pub pools: WatchedPools,
    pub publisher: DexPublisher,
    pub metrics: Arc<EvmMetrics>,
    pub checkpoint: PathBuf,
    pub reach: Reach,
}

impl Follower {
    /// A follower starting at the checkpoint if there is one, else at `start`.
    pub fn new(parts: FollowerParts, start: u64) -> Result<Follower, FollowError> {
        let FollowerParts { chain, cfg, rpc, pools, publisher, metrics, checkpoint, reach } = parts;
        let saved = Checkpoint::load(&checkpoint, cfg.chain_id)?;
        if let Some(cp) = &saved {
            tracing::info!(%chain, next_block = cp.next_block, kept = cp.window.len(), path = %checkpoint.display(), "resuming from the checkpoint");
        }
        let (next, window) = saved.map_or((start, Window::default()), |cp| (cp.next_block, cp.window));
        let filter = pools.filter();
        let range = cfg.max_block_range;
        let versions = Versions::above(&window);
        Ok(Follower {
            chain,
            cfg,
            rpc,
            pools,
            filter,
            publisher,
            metrics,
            checkpoint,
            reach,
            window,
            next,
            range,
            versions,
        })
    }

    /// The next block to read.
    pub fn next_block(&self) -> u64 {
        self.next
    }

    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    pub fn topic(&self) -> &str {
        self.publisher.topic()
    }

    fn tracks(&self) -> bool {
        self.reach == Reach::Live
    }

    /// One poll: follow a reorg if there was one, read up to the head (or the backfill's
    /// end), confirm what became final. Returns the head.
    pub async fn step(&mut self) -> Result<u64, FollowError> {
        let head = self.rpc.block_number().await?;
        if let Some((ancestor, beyond)) = self.fork_point().await? {
            self.follow_reorg(ancestor, beyond).await?;
        }
        self.settle(head).await?;
        loop {
            match self.advance(head).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(FollowError::Moved(why)) => {
                    tracing::info!(chain = %self.chain, "{why}; the next poll checks for a reorg");
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        self.settle(head).await?;
        Ok(head)
    }

    /// Read one range of blocks (false: nothing left to read at `head`). A range the node
    /// refuses is halved and asked again.
    pub async fn advance(&mut self, head: u64) -> Result<bool, FollowError> {
        let until = match self.reach {
            Reach::Live => head,
            Reach::Backfill { until } => until.min(head),
        };
        if self.next > until {
            return Ok(false);
        }
        let to = (self.next + self.range - 1).min(until);
        match self.read(self.next, to, head).await {
            Err(FollowError::Rpc(RpcError::RangeTooLarge { message, .. })) if self.range > 1 => {
                self.range = (self.range / 2).max(1);
                tracing::info!(chain = %self.chain, range = self.range, "the node refused the block range ({message}); asking for fewer blocks");
                Ok(true)
            }
            Err(e) => Err(e),
            Ok(()) => {
                self.save()?;
                self.metrics.position(&self.chain, head, self.next);
                Ok(self.next <= until)
            }
        }
    }

    /// The kept block the chain still shares with the node, when the newest kept one is no
    /// longer canonical (`beyond`: none of the kept blocks is).
    async fn fork_point(&self) -> Result<Option<(u64, bool)>, FollowError> {
        let (Some(tip), Some(first)) = (self.window.tip(), self.window.first()) else { return Ok(None) };
        // A node behind the kept tip (a lagging endpoint) is no proof of a reorg: wait for it.
        let Some(now) = self.rpc.header(tip.number).await? else { return Ok(None) };
        if now.hash == tip.hash {
            return Ok(None);
        }
        let numbers: Vec<u64> = (first..tip.number).collect();
        let headers = self.rpc.headers(&numbers).await?;
        let shared = numbers
            .iter()
            .zip(&headers)
            .rev()
            .find(|(n, h)| h.as_ref().map(|h| h.hash.as_str()) == self.window.hash_at(**n))
            .map(|(n, _)| *n);
        Ok(Some(shared.map_or((first.saturating_sub(1), true), |n| (n, false))))
    }

    async fn follow_reorg(&mut self, ancestor: u64, beyond: bool) -> Result<(), FollowError> {
        let depth = self.window.tip().map_or(0, |t| t.number - ancestor);
        let retracted = self.window.retract_above(ancestor, &mut self.versions);
        self.send(&retracted).await?;
        self.next = ancestor + 1;
        self.metrics.reorg(&self.chain, depth, beyond);
        if beyond {
            tracing::error!(chain = %self.chain, depth, kept = self.cfg.kept_blocks(), "a reorg deeper than the kept blocks: their logs are retracted, older ones could not be; reading again from block {}", self.next);
        } else {
            tracing::warn!(chain = %self.chain, depth, ancestor, retracted = retracted.len(), "reorg: the orphaned blocks' logs are retracted; reading the new chain from block {}", self.next);
        }
        self.save()?;
        Ok(())
    }

    /// Confirm the kept blocks final at `head` and forget those no longer kept.
    async fn settle(&mut self, head: u64) -> Result<(), FollowError> {
        if !self.tracks() {
            return Ok(());
        }
        let confirmed = self.window.confirm(head, self.cfg.confirmations, &mut self.versions);
        self.send(&confirmed).await?;
        self.window.forget_below((head + 1).saturating_sub(self.cfg.kept_blocks()));
        self.save()?;
        Ok(())
    }

    /// Blocks `from..=to`: every header of the kept zone (they must chain), the headers of
    /// older blocks with logs (their time), the logs checked against their block's hash.
    async fn read(&mut self, from: u64, to: u64, head: u64) -> Result<(), FollowError> {
        let mut by_block: BTreeMap<u64, Vec<EvmLog>> = BTreeMap::new();
        for log in self.rpc.logs(from, to, &self.filter).await? {
            by_block.entry(log.block_number).or_default().push(log);
        }
        let kept_from = if self.tracks() { (head + 1).saturating_sub(self.cfg.kept_blocks()) } else { u64::MAX };
        let wanted: Vec<u64> = (from..=to).filter(|n| *n >= kept_from || by_block.contains_key(n)).collect();
        let headers = self.rpc.headers(&wanted).await?;
        let (mut out, mut tracked) = (Vec::new(), Vec::new());
        let mut prev: Option<Header> = self.window.tip().cloned();
        for (n, header) in wanted.iter().zip(headers) {
            let h = header.ok_or_else(|| FollowError::Moved(format!("block {n} is no longer there")))?;
            let mut logs = by_block.remove(n).unwrap_or_default();
            logs.sort_by_key(|l| l.log_index);
            if let Some(l) = logs.iter().find(|l| l.block_hash != h.hash) {
                return Err(FollowError::Moved(format!(
                    "a log of block {n} names block {}, the block is {}",
                    l.block_hash, h.hash
                )));
            }
            if *n >= kept_from {
                if let Some(p) = prev.as_ref().filter(|p| p.number + 1 == *n && p.hash != h.parent_hash) {
                    return Err(FollowError::Moved(format!("block {n}'s parent is {}, not {}", h.parent_hash, p.hash)));
                }
                prev = Some(h.clone());
            }
            let confirmed = is_confirmed(*n, head, self.cfg.confirmations);
            let status = if confirmed { SwapStatus::Confirmed } else { SwapStatus::Pending };
            let raws: Vec<RawDexLog> = logs.iter().map(|l| self.raw(l, &h, status)).collect();
            out.extend(raws.iter().cloned());
            if *n >= kept_from {
                tracked.push(TrackedBlock { header: h, logs: raws, confirmed });
            }
        }
        self.send(&out).await?;
        for block in tracked {
            // The kept blocks end before a stretch read without keeping (final by now: the
            // settle before the read confirmed them); the new ones start afresh.
            if self.window.tip().is_some_and(|t| t.number + 1 != block.header.number) {
                self.window = Window::default();
            }
            self.window.push(block);
        }
        self.next = to + 1;
        Ok(())
    }

    fn raw(&mut self, l: &EvmLog, h: &Header, status: SwapStatus) -> RawDexLog {
        RawDexLog {
            chain: self.chain.clone(),
            chain_id: self.cfg.chain_id,
            // A log of a pool not asked for has no protocol: the transform quarantines it.
            protocol: self.pools.protocols.get(&l.address).cloned().unwrap_or_default(),
            address: l.address.clone(),
            topics: l.topics.clone(),
            data: l.data.clone(),
            block_number: l.block_number as i64,
            block_hash: l.block_hash.clone(),
            parent_hash: h.parent_hash.clone(),
            tx_hash: l.tx_hash.clone(),
            log_index: l.log_index as i64,
            removed: l.removed,
            block_time_us: h.timestamp * 1_000_000,
            receive_time_us: now_us(),
            status,
            version: self.versions.issue(),
        }
    }

    async fn send(&self, logs: &[RawDexLog]) -> Result<(), FollowError> {
        if logs.is_empty() {
            return Ok(());
        }
        self.publisher.send(logs).await?;
        for status in [SwapStatus::Pending, SwapStatus::Confirmed, SwapStatus::Retracted] {
            let n = logs.iter().filter(|l| l.status == status).count() as u64;
            if n > 0 {
                self.metrics.published(&self.chain, status_name(status), n);
            }
        }
        Ok(())
    }

    fn save(&self) -> Result<(), FollowError> {
        let cp = Checkpoint { chain_id: self.cfg.chain_id, next_block: self.next, window: self.window.clone() };
        Ok(cp.save(&self.checkpoint)?)
    }
}
