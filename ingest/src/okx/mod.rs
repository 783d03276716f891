//! OKX v5: its public channels (trades, books, mark-price, index-tickers, funding-rate), the
//! books sync rules (sequence ids and the CRC32 checksum), and the venue the shared
//! connection loop drives.

pub mod book;
pub mod checksum;
pub mod messages;
pub mod records;
pub mod venue;

pub use book::OkxBook;
pub use venue::Okx;
