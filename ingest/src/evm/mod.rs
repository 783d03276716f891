//! EVM pools: Uniswap V2/V3 and PancakeSwap V2/V3 logs read from a chain's JSON-RPC
//! endpoints and published raw to `raw.dex` (the `dex` transform decodes and prices them).
//!
//! The chain is followed by block hash and parent hash ([`canonical`]): a log is published
//! `PENDING` when first seen, `CONFIRMED` once its block has the chain's confirmations, and
//! `RETRACTED` when a reorg takes its block off the canonical chain; each restatement at a
//! higher version, so the tables keep the newest word.

pub mod canonical;
pub mod checkpoint;
pub mod config;
pub mod follow;
pub mod metrics;
pub mod pools;
pub mod publish;
pub mod rpc;
pub mod wire;

pub use config::{ChainConfig, ChainsFile};
pub use follow::{Follower, FollowerParts, Reach};
