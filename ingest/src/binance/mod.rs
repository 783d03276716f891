//! Binance spot and USD-M futures: their depth messages and book sync rules.

pub mod book;
pub mod connector;
pub mod messages;
pub mod records;
pub mod streams;

pub use book::{BinanceBook, Market};
