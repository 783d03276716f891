//! What every venue connection shares: reconnect backoff, and the reasons a connection ends.

pub mod backoff;
pub mod config;

pub use backoff::Backoff;
pub use config::ConnectorConfig;

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
}

impl Reconnect {
    pub fn as_str(self) -> &'static str {
        match self {
            Reconnect::Dropped => "dropped",
            Reconnect::Stalled => "stalled",
            Reconnect::Rotated => "rotated",
            Reconnect::ConnectFailed => "connect_failed",
        }
    }
}
