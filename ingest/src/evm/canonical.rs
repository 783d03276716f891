//! The chain as the ingestor last saw it: the newest blocks, contiguous, each with the logs
//! published from it and whether they were published as confirmed. A new block must name the
//! newest one as its parent; when the node's block at a kept height has another hash, the
//! chain was reorganised, and the kept blocks above the common ancestor are retracted.

use super::wire::Header;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tickwatch_model::{RawDexLog, SwapStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedBlock {
    pub header: Header,
    /// Every watched log of the block, in log-index order, as last published.
    pub logs: Vec<RawDexLog>,
    pub confirmed: bool,
}

/// Versions that only grow: microseconds of the wall clock, one more than the last if the
/// clock has not moved. A log retracted and later back on the canonical chain (a reorg
/// undone) is published again above its retraction, so the newest word wins in every table.
#[derive(Debug, Default)]
pub struct Versions {
    last: i64,
}

impl Versions {
    /// Versions above every one of `window` (a restart's clock may stand behind the last
    /// run's).
    pub fn above(window: &Window) -> Versions {
        let last = window.blocks.values().flat_map(|b| b.logs.iter().map(|l| l.version)).max().unwrap_or(0);
        Versions { last }
    }

    pub fn issue(&mut self) -> i64 {
        self.last = tickwatch_runtime::produce::now_us().max(self.last + 1);
        self.last
    }
}

/// `log` restated with a new status at a new version (a retracted log is `removed`). Its
/// receive time is the restatement's: the pipeline's latency is measured from it, and the
/// confirmation delay is the chain's, not the pipeline's.
pub fn restated(log: &RawDexLog, status: SwapStatus, version: i64) -> RawDexLog {
    let receive_time_us = tickwatch_runtime::produce::now_us();
    RawDexLog { status, version, removed: status == SwapStatus::Retracted, receive_time_us, ..log.clone() }
}

/// Whether a block with `confirmations` confirmations required is final at `head`: it and
/// the blocks on top of it make at least that many.
pub fn is_confirmed(number: u64, head: u64, confirmations: u64) -> bool {
    head + 1 >= number + confirmations
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    blocks: BTreeMap<u64, TrackedBlock>,
}

impl Window {
    pub fn tip(&self) -> Option<&Header> {
        self.blocks.values().next_back().map(|b| &b.header)
    }

    pub fn first(&self) -> Option<u64> {
        self.blocks.keys().next().copied()
    }

    pub fn hash_at(&self, number: u64) -> Option<&str> {
        self.blocks.get(&number).map(|b| b.header.hash.as_str())
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Whether `header` may follow the tip: the next height, naming the tip as its parent
    /// (anything goes on an empty window).
    pub fn extends(&self, header: &Header) -> bool {
        self.tip().is_none_or(|t| header.number == t.number + 1 && header.parent_hash == t.hash)
    }

    pub fn push(&mut self, block: TrackedBlock) {
        debug_assert!(self.extends(&block.header), "blocks are pushed in chain order");
        self.blocks.insert(block.header.number, block);
    }

    /// Drop every block above `ancestor`; their logs, restated as retracted, newest block
    /// last (the order they were published in).
    pub fn retract_above(&mut self, ancestor: u64, versions: &mut Versions) -> Vec<RawDexLog> {
        let orphaned = self.blocks.split_off(&(ancestor + 1));
        orphaned
            .values()
            .flat_map(|b| b.logs.iter())
            .map(|l| restated(l, SwapStatus::Retracted, versions.issue()))
            .collect()
    }

    /// Mark the blocks that became final at `head`; their logs restated as confirmed.
    pub fn confirm(&mut self, head: u64, confirmations: u64, versions: &mut Versions) -> Vec<RawDexLog> {
        let mut out = Vec::new();
        for b in self.blocks.values_mut().filter(|b| !b.confirmed && is_confirmed(b.header.number, head, confirmations))
        {
            b.logs = b.logs.iter().map(|l| restated(l, SwapStatus::Confirmed, versions.issue())).collect();
            b.confirmed = true;
            out.extend(b.logs.iter().cloned());
        }
        out
    }

    /// Forget the blocks below `from` (only final ones: a pending block is always kept).
    pub fn forget_below(&mut self, from: u64) {
        let kept = self.blocks.split_off(&from);
        let dropped = std::mem::replace(&mut self.blocks, kept);
        for (n, b) in dropped.into_iter().rev().filter(|(_, b)| !b.confirmed) {
            self.blocks.insert(n, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(n: u64, fork: &str) -> Header {
        let hash = |n: u64| if n <= 102 { format!("0x{n}") } else { format!("0x{fork}{n}") };
        Header { number: n, hash: hash(n), parent_hash: hash(n - 1), timestamp: n as i64 * 12 }
    }

    fn log(n: u64, fork: &str) -> RawDexLog {
        let h = header(n, fork);
        RawDexLog {
            chain: "ethereum".into(),
            chain_id: 1,
            protocol: "uniswap_v2".into(),
            address: "0xpool".into(),
            topics: vec![],
            data: vec![],
            block_number: n as i64,
            block_hash: h.hash,
            parent_hash: h.parent_hash,
            tx_hash: format!("0xt{n}"),
            log_index: 0,
            removed: false,
            block_time_us: 0,
            receive_time_us: 0,
            status: SwapStatus::Pending,
            version: 1,
        }
    }

    fn window(fork: &str, blocks: std::ops::RangeInclusive<u64>) -> Window {
        let mut w = Window::default();
        for n in blocks {
            w.push(TrackedBlock { header: header(n, fork), logs: vec![log(n, fork)], confirmed: false });
        }
        w
    }

    #[test]
    fn a_block_extends_the_tip_only_through_its_parent() {
        let w = window("a", 100..=104);
        assert!(w.extends(&header(105, "a")));
        assert!(!w.extends(&header(105, "b")), "another fork's block names another parent");
        assert!(!w.extends(&header(106, "a")), "a gap");
        assert!(Window::default().extends(&header(7, "x")));
    }

    #[test]
    fn retraction_restates_the_orphaned_logs_above_every_version_they_had() {
        let mut w = window("a", 100..=105);
        let mut versions = Versions::default();
        let retracted = w.retract_above(102, &mut versions);
        assert_eq!(retracted.iter().map(|l| l.block_number).collect::<Vec<_>>(), vec![103, 104, 105]);
        assert!(retracted.iter().all(|l| l.status == SwapStatus::Retracted && l.removed && l.version > 1));
        assert!(retracted.windows(2).all(|p| p[0].version < p[1].version));
        // A restart whose clock stands an hour behind the kept logs' versions.
        let mut ahead = window("a", 100..=101);
        let far = tickwatch_runtime::produce::now_us() + 3_600_000_000;
        ahead.blocks.get_mut(&101).unwrap().logs[0].version = far;
        assert!(Versions::above(&ahead).issue() > far, "above the kept logs' versions, whatever the clock");
        assert_eq!(w.tip().unwrap().number, 102);
        assert!(w.extends(&header(103, "b")), "the new fork continues from the ancestor");
    }

    #[test]
    fn blocks_confirm_once_deep_enough_and_only_final_ones_are_forgotten() {
        let mut w = window("a", 100..=111);
        let mut versions = Versions::default();
        // Head 111 with 3 confirmations: 109, 110 and 111 make three for block 109.
        let confirmed = w.confirm(111, 3, &mut versions);
        assert_eq!(confirmed.iter().map(|l| l.block_number).collect::<Vec<_>>(), (100..=109).collect::<Vec<_>>());
        assert!(confirmed.iter().all(|l| l.status == SwapStatus::Confirmed && !l.removed));
        assert!(w.confirm(111, 3, &mut versions).is_empty(), "confirmed once");
        assert_eq!(w.confirm(112, 3, &mut versions).len(), 1);
        w.forget_below(112);
        assert_eq!(w.first(), Some(111), "111 is still pending at head 112");
        assert!(is_confirmed(10, 21, 12) && !is_confirmed(10, 20, 12));
    }
}
