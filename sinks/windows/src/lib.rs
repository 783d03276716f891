//! Event-time windows over the clean `trades` topic: per venue and instrument, tumbling
//! windows of each configured interval give OHLCV bars (exact decimals, VWAP rounded once
//! toward zero at 18 places) for the `kline.<interval>` topics. `config.rs` is what the user
//! writes, `kline.rs` one bar's accumulator, `builder.rs` the watermarks, corrections and
//! late data, `run.rs` the consumer-group worker (`tickwatch windows run`). Over the clean
//! `depth` topic, `book.rs` keeps each book and `tops.rs` gives its top and imbalance at the
//! end of each window (`book.<interval>`, worker `book_run.rs`, `tickwatch windows book`).

pub mod book;
pub mod book_run;
pub mod builder;
pub mod config;
pub mod kline;
pub mod run;
mod seen;
pub mod tops;

pub use builder::{BuilderStats, KlineBuilder, Output};
pub use config::{Interval, WindowConfig};
pub use tops::BookTopBuilder;
