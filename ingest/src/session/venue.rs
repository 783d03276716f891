//! What a venue folder gives the shared connection loop ([`super::connection`]): its stream
//! names and subscribe messages, its heartbeat, how it reads a frame (records out, books kept
//! in sync), and how a broken book is rebuilt: from a REST snapshot (Binance) or by
//! subscribing the book channel again, which makes the venue push a snapshot (OKX, Bybit).

use crate::book::{BookSet, OrderBook, SyncEvent, SyncedBook};
use crate::frame::Frame;
use crate::session::ConnectorConfig;
use std::time::Duration;

/// One subscription: an instrument's channel, named the venue's way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The venue symbol whose data it carries.
    pub symbol: String,
    /// What it carries: `trades`, `depth` (the order book), `reference`, or `index` (an
    /// index whose records are published as the reference prices of other instruments).
    pub channel: &'static str,
    /// The venue's name or argument for it (`btcusdt@aggTrade`, `{"channel":"trades",..}`).
    pub arg: String,
}

impl Stream {
    pub fn is_book(&self) -> bool {
        self.channel == "depth"
    }
}

/// The symbols of the book streams among `streams`.
pub fn book_symbols(streams: &[Stream]) -> impl Iterator<Item = String> + '_ {
    streams.iter().filter(|s| s.is_book()).map(|s| s.symbol.clone())
}

/// A frame read: what to publish, what happened to which symbol's book, and whether the
/// venue announced it will close the connection (reconnect now rather than lose data).
pub struct Read {
    pub frame: Frame,
    pub sync: Vec<(String, SyncEvent)>,
    pub closing: bool,
}

impl Read {
    pub fn frame(frame: Frame) -> Read {
        Read { frame, sync: Vec::new(), closing: false }
    }

    pub fn closing() -> Read {
        Read { frame: Frame::Control, sync: Vec::new(), closing: true }
    }
}

/// A REST depth snapshot, venue-neutral: the id the book stands at and its levels as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestBook {
    pub last_id: i64,
    pub bids: Vec<(String, String)>,
    pub asks: Vec<(String, String)>,
}

/// How a book is rebuilt after a break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Fetch a REST snapshot and hand it to [`VenueSession::on_rest_snapshot`].
    RestSnapshot,
    /// Send these messages (unsubscribe and subscribe again); the venue pushes a snapshot.
    Resubscribe(Vec<String>),
}

/// A venue: what does not change between its connections.
pub trait Venue: Send + Sync + 'static {
    type Session: VenueSession;

    /// Every stream of `cfg`'s instruments and channels.
    fn streams(&self, cfg: &ConnectorConfig) -> Vec<Stream>;
    /// Streams named in one subscribe message at most.
    fn args_per_message(&self) -> usize;
    /// One subscribe message for `streams`; `id` counts the connection's requests.
    fn subscribe(&self, streams: &[Stream], id: u64) -> String;
    /// Per-connection state for these streams.
    fn session(&self, cfg: &ConnectorConfig, streams: &[Stream]) -> Self::Session;
    /// The REST path (after the base URL) of `symbol`'s depth snapshot of `depth` levels.
    fn snapshot_path(&self, symbol: &str, depth: u32) -> String;
    /// Read the REST snapshot's body.
    fn rest_book(&self, body: &[u8]) -> Result<RestBook, String>;
    /// The REST paths of the instrument lists `cfg`'s instruments are in, and the venue
    /// symbols one of them holds.
    fn instruments_paths(&self, cfg: &ConnectorConfig) -> Vec<String>;
    fn listed_symbols(&self, body: &[u8]) -> Result<Vec<String>, String>;
    /// Whether the trade sequence counts every trade one by one, so that a jump in it is
    /// trades missed (Binance's aggregate trade ids); false where ids may skip.
    fn contiguous_trade_ids(&self) -> bool {
        false
    }
}

/// One connection's state.
pub trait VenueSession: Send {
    type Book: SyncedBook;

    /// What to send when the socket was quiet this long (OKX `ping`, Bybit `{"op":"ping"}`);
    /// None where the server pings (Binance).
    fn heartbeat(&self) -> Option<(Duration, String)>;
    /// Read one text frame received at `received_ms`.
    fn read(&mut self, text: &str, received_ms: i64) -> Read;
    /// How `symbol`'s book is rebuilt.
    fn repair(&self, symbol: &str) -> Repair;
    /// A REST snapshot of `symbol` for a book that waits for one (Binance).
    fn on_rest_snapshot(&mut self, symbol: &str, snap: &RestBook, received_ms: i64) -> Read;
    /// The connection's books.
    fn books(&self) -> &BookSet<Self::Book>;
    fn books_mut(&mut self) -> &mut BookSet<Self::Book>;

    /// Symbols whose book waits for a snapshot.
    fn waiting_books(&self) -> Vec<String> {
        self.books().waiting()
    }
    /// `symbol`'s book and the id it stands at, when it is valid.
    fn book(&self, symbol: &str) -> Option<(i64, &OrderBook)> {
        self.books().current(symbol)
    }
    /// Drop `symbol`'s book (every book when None) so that it is rebuilt.
    fn invalidate(&mut self, symbol: Option<&str>) {
        self.books_mut().invalidate(symbol)
    }
}
