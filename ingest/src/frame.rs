//! What a venue frame is, once read: raw records to publish, a control message (ack, pong),
//! or garbage with the kind of garbage it is. Garbage is counted by kind, logged once per
//! kind and kept; the connection goes on.

use serde::Deserialize;
use tickwatch_model::{Decimal, PriceLevel, RawBookUpdate, RawReferencePrice, RawTrade};

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

    /// When the ingestor read the frame.
    pub fn receive_time_us(&self) -> i64 {
        match self {
            RawRecord::Trade(t) => t.receive_time_us,
            RawRecord::Book(b) => b.receive_time_us,
            RawRecord::Reference(r) => r.receive_time_us,
        }
    }

    pub fn venue(&self) -> &str {
        match self {
            RawRecord::Trade(t) => &t.venue,
            RawRecord::Book(b) => &b.venue,
            RawRecord::Reference(r) => &r.venue,
        }
    }

    /// `venue|symbol|channel|id`: the same market event gives the same key however often it
    /// is received (a duplicate frame, the overlap of a reconnect) — trade id for trades,
    /// `snapshot:`/`delta:` and the last update id for books (the event time where the venue
    /// sends no id), the event time for reference prices. Sent as the `dedup_key` header.
    pub fn dedup_key(&self) -> String {
        let mut key = Vec::with_capacity(48);
        self.write_dedup_key(&mut key);
        String::from_utf8(key).expect("venue, symbol and ids are text")
    }

    /// [`RawRecord::dedup_key`] appended to `out` (the publisher keeps it beside the key, in
    /// one buffer per record).
    pub fn write_dedup_key(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let written = match self {
            RawRecord::Trade(t) => write!(out, "{}|{}|trades|{}", t.venue, t.symbol, t.trade_id),
            RawRecord::Book(b) => {
                let kind = match b.update_kind {
                    tickwatch_model::BookUpdateKind::Snapshot => "snapshot",
                    tickwatch_model::BookUpdateKind::Delta => "delta",
                };
                let id = if b.last_update_id >= 0 { b.last_update_id } else { b.event_time_us };
                write!(out, "{}|{}|depth|{kind}:{id}", b.venue, b.symbol)
            }
            RawRecord::Reference(r) => write!(out, "{}|{}|reference|{}", r.venue, r.symbol, r.event_time_us),
        };
        written.expect("writing to a Vec cannot fail");
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
    /// The venue answered a request with an error (a refused subscription, say).
    VenueError,
}

impl GarbageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GarbageKind::NotJson => "not_json",
            GarbageKind::UnknownEvent => "unknown_event",
            GarbageKind::MissingField => "missing_field",
            GarbageKind::BadNumber => "bad_number",
            GarbageKind::VenueError => "venue_error",
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

/// An exact decimal from the venue's text, or the garbage frame naming the field.
pub fn dec(field: &str, text: &str) -> Result<Decimal, Frame> {
    text.parse().map_err(|e| Frame::garbage(GarbageKind::BadNumber, format!("{field} `{text}`: {e}")))
}

/// Millisecond time sent as text (OKX's `ts`).
pub fn millis(field: &str, text: &str) -> Result<i64, Frame> {
    text.parse().map_err(|_| Frame::garbage(GarbageKind::BadNumber, format!("{field} `{text}` is not a time in ms")))
}

/// Price levels from `[price, size, ...]` entries.
pub fn levels<'a>(side: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Vec<PriceLevel>, Frame> {
    side.into_iter().map(|(p, s)| Ok(PriceLevel { price: dec("price", p)?, size: dec("size", s)? })).collect()
}

/// A known message's body, or the garbage frame saying which field was missing.
pub fn parse<'a, T: Deserialize<'a>>(data: &'a serde_json::Value) -> Result<T, Frame> {
    T::deserialize(data).map_err(|e| Frame::garbage(GarbageKind::MissingField, e.to_string()))
}

/// A message read straight from its text (no JSON tree): not JSON at all is `not_json`, JSON
/// of the wrong shape `missing_field`.
pub fn parse_text<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, Frame> {
    serde_json::from_str(text).map_err(|e| {
        let kind = if e.is_syntax() || e.is_eof() { GarbageKind::NotJson } else { GarbageKind::MissingField };
        Frame::garbage(kind, e.to_string())
    })
}
