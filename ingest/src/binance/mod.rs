//! Binance spot and USD-M futures: their messages, book sync rules, and the venue the
//! shared connection loop drives.

pub mod book;
pub mod messages;
pub mod records;
pub mod venue;

pub use book::{BinanceBook, Market};
pub use venue::Binance;
