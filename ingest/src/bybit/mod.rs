//! Bybit v5: the `orderbook.<depth>.<symbol>` topic and its sync rules.

pub mod book;
pub mod messages;

pub use book::BybitBook;
