//! What every venue connection shares: the connection loop, the venue interface it drives,
//! the periodic book check, reconnect backoff, and the reasons a connection ends.

pub mod backoff;
pub mod check;
pub mod config;
pub mod connection;
mod rest;
pub mod venue;

pub use backoff::Backoff;
pub use config::ConnectorConfig;
pub use venue::{book_symbols, Read, Repair, RestBook, Stream, Venue, VenueSession};

/// Why a connection was closed and redone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    /// The venue closed it or the network failed.
    Dropped,
    /// The socket stayed open but no frame came for the stall timeout.
    Stalled,
    /// Proactively, before the venue's connection lifetime ends.
    Rotated,
    /// Connecting or subscribing failed.
    ConnectFailed,
    /// The venue announced that it is closing the connection (Binance `serverShutdown`,
    /// OKX notice 64008).
    VenueClosing,
}

impl Reconnect {
    pub fn as_str(self) -> &'static str {
        match self {
            Reconnect::Dropped => "dropped",
            Reconnect::Stalled => "stalled",
            Reconnect::Rotated => "rotated",
            Reconnect::ConnectFailed => "connect_failed",
            Reconnect::VenueClosing => "venue_closing",
        }
    }
}
