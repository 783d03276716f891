//! OKX v5: the `books` channel and its sync rules (sequence ids and the CRC32 checksum).

pub mod book;
pub mod checksum;
pub mod messages;

pub use book::OkxBook;
