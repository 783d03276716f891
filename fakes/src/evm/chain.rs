//! The chain the fake node serves: a seeded, reproducible sequence of blocks. Only blocks
//! that hold something (logs, or a real hash from the fixtures) are stored; every other
//! header is computed from (seed, fork, number), so a fixture chain can span millions of
//! blocks. A reorg bumps the fork counter, so replaced blocks get hashes never used before.

use super::hashes::{self, block_hash, decode_block_hash};
use super::logs::{is_swap, Log};
use super::pools::{PoolState, Trade};
use super::{CanonicalSwap, ChainSpec, FakePool};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// The fork number of the first block's parent: never a canonical fork.
const PARENT_OF_FIRST: u64 = u64::MAX;

/// The chain: a shared handle, cheap to clone; every clone sees the same blocks.
#[derive(Clone)]
pub struct Chain {
    state: Arc<Mutex<State>>,
}

/// A block that holds something: logs (with the trades behind them) or a real hash.
#[derive(Clone, Debug)]
pub(crate) struct Body {
    pub real_hash: Option<String>,
    pub logs: Vec<Log>,
    pub(super) trades: Vec<Trade>,
    /// The pools after this block, to roll back to when a reorg drops the blocks above it.
    pub(super) pools_after: Vec<PoolState>,
}

impl Body {
    pub(crate) fn real(hash: String, logs: Vec<Log>) -> Body {
        Body { real_hash: Some(hash), logs, trades: Vec::new(), pools_after: Vec::new() }
    }
}

pub(crate) struct State {
    pub spec: ChainSpec,
    pub head: u64,
    /// (first block number, fork): the fork each stretch of the chain was mined on.
    pub(super) forks: Vec<(u64, u64)>,
    pub(super) next_fork: u64,
    pub bodies: BTreeMap<u64, Body>,
    pub(super) opening_pools: Vec<PoolState>,
    pub(super) pools: Vec<PoolState>,
    /// Swaps of orphaned blocks waiting to be mined again (same tx hash, new state).
    pub(super) resubmit: VecDeque<Trade>,
    /// Blocks with real (fixture) hashes: hash → number.
    pub(super) real_hashes: HashMap<String, u64>,
    /// Pools `eth_call` answers for besides the spec's (see [`Chain::register_pool`]).
    pub known_pools: Vec<FakePool>,
    pub requests: BTreeMap<String, u64>,
}

fn lowercase(mut pool: FakePool) -> FakePool {
    for text in [&mut pool.address, &mut pool.token0, &mut pool.token1] {
        *text = text.to_ascii_lowercase();
    }
    pool
}

impl State {
    /// A chain of one block, `spec.start_block`.
    pub fn new(mut spec: ChainSpec) -> State {
        spec.pools = spec.pools.into_iter().map(lowercase).collect();
        let pools: Vec<PoolState> = spec.pools.iter().map(PoolState::open).collect();
        let first = spec.start_block;
        let mut state = State {
            spec,
            head: first,
            forks: vec![(first, 0)],
            next_fork: 1,
            bodies: BTreeMap::new(),
            opening_pools: pools.clone(),
            pools,
            resubmit: VecDeque::new(),
            real_hashes: HashMap::new(),
            known_pools: Vec::new(),
            requests: BTreeMap::new(),
        };
        state.mine_block(first);
        state
    }

    pub fn first(&self) -> u64 {
        self.spec.start_block
    }

    /// Put a real block (fixtures) at `number`; blocks up to it must already exist.
    pub fn insert_real(&mut self, number: u64, body: Body) {
        if let Some(hash) = &body.real_hash {
            self.real_hashes.insert(hash.clone(), number);
        }
        self.bodies.insert(number, body);
    }

    pub(super) fn fork_of(&self, number: u64) -> u64 {
        self.forks.iter().rev().find(|(start, _)| *start <= number).map_or(0, |(_, fork)| *fork)
    }

    /// The hash of block `number` (which must be at most the head).
    pub fn hash_of(&self, number: u64) -> String {
        match self.bodies.get(&number).and_then(|b| b.real_hash.clone()) {
            Some(real) => real,
            None => block_hash(self.spec.seed, self.fork_of(number), number),
        }
    }

    pub fn parent_hash(&self, number: u64) -> String {
        match number.checked_sub(1) {
            Some(parent) if number > self.first() => self.hash_of(parent),
            _ => block_hash(self.spec.seed, PARENT_OF_FIRST, number),
        }
    }

    pub fn timestamp(&self, number: u64) -> i64 {
        self.spec.start_time_s + (number - self.first()) as i64 * self.spec.block_time_s
    }

    pub fn exists(&self, number: u64) -> bool {
        (self.first()..=self.head).contains(&number)
    }

    /// The number of the canonical block with hash `hash`; None for unknown or orphaned ones.
    pub fn number_of(&self, hash: &str) -> Option<u64> {
        let hash = hash.to_ascii_lowercase();
        if let Some(&n) = self.real_hashes.get(&hash) {
            return self.exists(n).then_some(n);
        }
        let (fork, n) = decode_block_hash(self.spec.seed, &hash)?;
        let replaced_by_real = self.bodies.get(&n).is_some_and(|b| b.real_hash.is_some());
        (self.exists(n) && self.fork_of(n) == fork && !replaced_by_real).then_some(n)
    }

    /// The first log of each transaction of block `number`, in order: its transactions
    /// (only the ones that left logs exist here).
    pub fn tx_first_logs(&self, number: u64) -> Vec<&Log> {
        let mut firsts: Vec<&Log> = Vec::new();
        for log in self.bodies.get(&number).map_or(&[][..], |b| &b.logs[..]) {
            if firsts.last().is_none_or(|first| first.tx_hash != log.tx_hash) {
                firsts.push(log);
            }
        }
        firsts
    }

    /// A root-like hash of block `number` for the header fields nobody checks.
    pub fn filler_hash(&self, number: u64, salt: u64) -> String {
        hashes::hash32(&[self.spec.seed, self.fork_of(number), number, salt])
    }
}

impl Chain {
    /// A chain of `spec` with `initial_blocks` blocks mined (at least one: the first block).
    pub fn new(spec: ChainSpec, initial_blocks: u64) -> Chain {
        let mut state = State::new(spec);
        state.mine(initial_blocks.saturating_sub(1));
        Chain::of(state)
    }

    pub(crate) fn of(state: State) -> Chain {
        Chain { state: Arc::new(Mutex::new(state)) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere leaves the chain consistent (every change is one call).
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Append `n` new blocks with seeded swaps.
    pub fn mine(&self, n: u64) {
        self.lock().mine(n);
    }

    /// Replace the newest `depth` blocks (at most all but the first) with `new_blocks` new
    /// ones: new hashes, other swaps; some dropped swaps come back with their tx hash at
    /// other blocks and log indexes.
    pub fn reorg(&self, depth: u64, new_blocks: u64) {
        self.lock().reorg(depth, new_blocks);
    }

    pub fn head(&self) -> u64 {
        self.lock().head
    }

    pub fn block_hash(&self, number: u64) -> Option<String> {
        let state = self.lock();
        state.exists(number).then(|| state.hash_of(number))
    }

    /// The Swap logs (not Sync) of the canonical chain in blocks <= `up_to`, in chain order.
    pub fn swaps(&self, up_to: u64) -> Vec<CanonicalSwap> {
        let state = self.lock();
        let mut swaps = Vec::new();
        for (&number, body) in state.bodies.range(..=up_to.min(state.head)) {
            let block_hash = state.hash_of(number);
            for log in body.logs.iter().filter(|l| l.topics.first().is_some_and(|t| is_swap(t))) {
                swaps.push(CanonicalSwap {
                    block_number: number,
                    block_hash: block_hash.clone(),
                    tx_hash: log.tx_hash.clone(),
                    log_index: log.log_index,
                    address: log.address.clone(),
                    topics: log.topics.clone(),
                    data: log.data.clone(),
                });
            }
        }
        swaps
    }

    /// How many JSON-RPC calls the node has answered, by method (every call of a batch
    /// counts; requests refused with HTTP 429 or 503 do not).
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.lock().requests.clone()
    }

    /// Let `eth_call` answer token0/token1/decimals for `pool` too (its logs do not change):
    /// for fixture chains, whose pools the node otherwise knows nothing about.
    pub fn register_pool(&self, pool: FakePool) {
        self.lock().known_pools.push(lowercase(pool));
    }
}
