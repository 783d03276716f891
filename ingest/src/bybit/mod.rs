//! Bybit v5: its public topics (publicTrade, orderbook, tickers), the orderbook sync rules,
//! and the venue the shared connection loop drives.

pub mod book;
pub mod messages;
pub mod records;
pub mod venue;

pub use book::BybitBook;
pub use venue::Bybit;
