//! Binance spot and USD-M futures: their depth messages and book sync rules.

pub mod book;
pub mod messages;

pub use book::{BinanceBook, Market};
