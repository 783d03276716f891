//! One Rust type per `.avsc` file. Field order and names follow the schema files exactly.

mod alert;
mod book;
mod book_top;
mod dex;
mod kline;
mod quality;
mod quarantine;
mod reference;
mod signal;
mod trade;

pub use alert::{Alert, AlertSeverity, AlertState};
pub use book::{BookUpdate, BookUpdateKind, PriceLevel, RawBookUpdate};
pub use book_top::BookTop;
pub use dex::{DexSwap, RawDexLog, SwapStatus, PANCAKE_V3_SWAP, V2_SWAP, V2_SYNC, V3_SWAP};
pub use kline::{Kline, KlineVerification};
pub use quality::QualityMinute;
pub use quarantine::QuarantineRecord;
pub use reference::{RawReferencePrice, ReferencePrice};
pub use signal::{Signal, SmoothPrice, SmoothState};
pub use trade::{RawTrade, TakerSide, Trade};
