//! Mining and reorgs: each block's swaps come from a generator seeded with (seed, fork,
//! number), so the same spec always mines the same chain, and a reorg (a new fork number)
//! mines different blocks at the same heights.

use super::chain::{Body, State};
use super::hashes;
use super::logs::Log;
use super::pools::{Trade, SIZE_PPM};

/// Salts for the seeded streams, so they never coincide.
const SALT_TX: u64 = 0x7a;
const SALT_REORG: u64 = 0x4e0;
const SALT_ROUTER: u64 = 0x40e7;
const SALT_TRADER: u64 = 0x7ade;
/// How many distinct trader addresses the synthetic swaps come from.
const TRADERS: u64 = 8;

impl State {
    pub(super) fn mine_block(&mut self, number: u64) {
        self.head = number;
        if self.spec.pools.is_empty() {
            return;
        }
        let (seed, fork) = (self.spec.seed, self.fork_of(number));
        let mut rng = fastrand::Rng::with_seed(hashes::mix(&[seed, fork, number]));
        let mut count = rng.u32(0..=self.spec.max_swaps_per_block) as u64;
        if !self.resubmit.is_empty() {
            count = count.max(1);
        }
        // Orphaned swaps take up to half the block (rounded up), mixed in among fresh ones.
        let mut resubmits = (self.resubmit.len() as u64).min(count.div_ceil(2));
        let mut trades = Vec::new();
        for i in 0..count {
            let fresh_left = count - i - resubmits;
            if resubmits > 0 && (fresh_left == 0 || rng.bool()) {
                resubmits -= 1;
                trades.extend(self.resubmit.pop_front());
                continue;
            }
            trades.push(Trade {
                tx_hash: hashes::hash32(&[seed, SALT_TX, fork, number, i]),
                pool: rng.usize(..self.spec.pools.len()),
                zero_for_one: rng.bool(),
                size_ppm: rng.u32(SIZE_PPM),
                trader: hashes::address(&[seed, SALT_TRADER, rng.u64(..TRADERS)]),
            });
        }
        let router = hashes::address(&[seed, SALT_ROUTER]);
        let mut logs = Vec::new();
        for (tx_index, trade) in trades.iter().enumerate() {
            let pool = &self.spec.pools[trade.pool];
            for event in self.pools[trade.pool].swap(pool, &router, trade) {
                logs.push(Log {
                    address: pool.address.clone(),
                    topics: event.topics,
                    data: event.data,
                    tx_hash: trade.tx_hash.clone(),
                    tx_index: tx_index as u64,
                    log_index: logs.len() as u64,
                });
            }
        }
        if !trades.is_empty() {
            let pools_after = self.pools.clone();
            self.bodies.insert(number, Body { real_hash: None, logs, trades, pools_after });
        }
    }

    pub fn mine(&mut self, n: u64) {
        if self.spec.pools.is_empty() {
            // Empty headers are computed on demand: a fixture chain skips millions at once.
            self.head += n;
            return;
        }
        for _ in 0..n {
            self.mine_block(self.head + 1);
        }
    }

    /// Drop the newest `depth` blocks (never the first block) and mine `new_blocks` on a new
    /// fork; about half of the dropped swaps are mined again, first thing, with their tx hash.
    pub fn reorg(&mut self, depth: u64, new_blocks: u64) {
        let ancestor = self.head - depth.min(self.head - self.first());
        let fork = self.next_fork;
        self.next_fork += 1;
        let orphaned = self.bodies.split_off(&(ancestor + 1));
        self.forks.retain(|(start, _)| *start <= ancestor);
        self.forks.push((ancestor + 1, fork));
        let mut rng = fastrand::Rng::with_seed(hashes::mix(&[self.spec.seed, SALT_REORG, fork]));
        for body in orphaned.into_values() {
            if let Some(hash) = &body.real_hash {
                self.real_hashes.remove(hash);
            }
            self.resubmit.extend(body.trades.into_iter().filter(|_| rng.bool()));
        }
        self.pools = match self.bodies.values().rev().find(|b| !b.pools_after.is_empty()) {
            Some(body) => body.pools_after.clone(),
            None => self.opening_pools.clone(),
        };
        self.head = ancestor;
        self.mine(new_blocks);
    }
}
