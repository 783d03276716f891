//! What a venue frame is, once read: raw records to publish, a control message (ack, pong),
//! or garbage with the kind of garbage it is. Garbage is counted by kind, logged once per
//! kind and kept; the connection goes on.

use tickwatch_model::{RawBookUpdate, RawReferencePrice, RawTrade};

/// A record for one of the raw topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawRecord {
    Trade(RawTrade),
    Book(RawBookUpdate),
    Reference(RawReferencePrice),
}

impl RawRecord {
    /// The venue symbol: the key on the raw topics.
    pub fn symbol(&self) -> &str {
        match self {
            RawRecord::Trade(t) => &t.symbol,
            RawRecord::Book(b) => &b.symbol,
            RawRecord::Reference(r) => &r.symbol,
        }
    }

    /// The venue's event time.
    pub fn event_time_us(&self) -> i64 {
        match self {
            RawRecord::Trade(t) => t.event_time_us,
            RawRecord::Book(b) => b.event_time_us,
            RawRecord::Reference(r) => r.event_time_us,
        }
    }

    pub fn channel(&self) -> &'static str {
        match self {
            RawRecord::Trade(_) => "trades",
            RawRecord::Book(_) => "depth",
            RawRecord::Reference(_) => "reference",
        }
    }
}

/// Why a frame is garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GarbageKind {
    /// Not JSON at all.
    NotJson,
    /// JSON, but no event this connector knows.
    UnknownEvent,
    /// A known event with a field missing or of the wrong type.
    MissingField,
    /// A price or size that is not an exact decimal, or negative.
    BadNumber,
}

impl GarbageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GarbageKind::NotJson => "not_json",
            GarbageKind::UnknownEvent => "unknown_event",
            GarbageKind::MissingField => "missing_field",
            GarbageKind::BadNumber => "bad_number",
        }
    }
}

/// One frame, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Records(Vec<RawRecord>),
    /// Subscription acks, pongs, and other messages that carry no market data.
    Control,
    Garbage {
        kind: GarbageKind,
        detail: String,
    },
}

impl Frame {
    pub fn garbage(kind: GarbageKind, detail: impl Into<String>) -> Frame {
        Frame::Garbage { kind, detail: detail.into() }
    }
}
