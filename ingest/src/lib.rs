//! Venue connectors. Each venue folder holds its own message types and its own rules for
//! keeping an order book in sync; what leaves a folder is venue-neutral: an [`book::OrderBook`]
//! and the [`book::SyncEvent`]s that say what happened to it.

pub mod binance;
pub mod book;
pub mod bybit;
pub mod evm;
pub mod flat_json;
pub mod frame;
pub mod history;
pub mod metrics;
pub mod okx;
pub mod publish;
pub mod quality;
pub mod replay;
pub mod session;
pub mod silence;
pub mod streams;
