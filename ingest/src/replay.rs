//! Replays a recorded depth stream through a venue's sync rules: the verification behind
//! `tickwatch book replay`. Lines that are not depth messages of the venue (acks, other
//! channels) are skipped; a line that is not JSON is reported and skipped.

use crate::binance::messages::{unwrap_stream, DepthSnapshot, DepthUpdate};
use crate::binance::{BinanceBook, Market};
use crate::book::{Loss, OrderBook, SyncEvent, SyncStats};
use crate::bybit::messages::OrderbookPush;
use crate::bybit::BybitBook;
use crate::okx::messages::BooksPush;
use crate::okx::OkxBook;
use serde::Deserialize;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue {
    Binance,
    BinanceUsdm,
    Okx,
    Bybit,
}

impl Venue {
    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::BinanceUsdm => "binance-usdm",
            Venue::Okx => "okx",
            Venue::Bybit => "bybit",
        }
    }
}

impl FromStr for Venue {
    type Err = String;
    fn from_str(s: &str) -> Result<Venue, String> {
        Ok(match s {
            "binance" => Venue::Binance,
            "binance-usdm" => Venue::BinanceUsdm,
            "okx" => Venue::Okx,
            "bybit" => Venue::Bybit,
            other => return Err(format!("unknown venue `{other}`; known: binance, binance-usdm, okx, bybit")),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{} books start from a REST snapshot: pass --snapshot FILE (the depth endpoint's JSON)", venue.as_str())]
    SnapshotNeeded { venue: Venue },
    #[error("the snapshot is not a depth response: {0}")]
    BadSnapshot(String),
    #[error("the updates hold more than one symbol ({0} and {1}); pick one with --symbol")]
    MixedSymbols(String, String),
}

/// Best bid and ask (price, size as sent) right after update `update_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Top {
    pub update_id: i64,
    pub bid: Option<(String, String)>,
    pub ask: Option<(String, String)>,
}

/// What the replay found.
pub struct Replay {
    pub book: OrderBook,
    pub last_update_id: Option<i64>,
    pub symbol: Option<String>,
    pub stats: SyncStats,
    /// One line per sequence break, checksum result, rejected or unreadable line.
    pub report: Vec<String>,
    /// The top of book after each snapshot and applied update (for comparisons with the
    /// venue's own best bid and ask).
    pub tops: Vec<Top>,
    /// Lines that were not depth messages of this venue.
    pub skipped: u64,
}

enum Sync {
    Binance(BinanceBook),
    Okx(OkxBook),
    Bybit(BybitBook),
}

impl Sync {
    fn book(&self) -> &OrderBook {
        match self {
            Sync::Binance(b) => b.book(),
            Sync::Okx(b) => b.book(),
            Sync::Bybit(b) => b.book(),
        }
    }
}

fn describe(e: &SyncEvent) -> Option<String> {
    Some(match e {
        SyncEvent::Gap { expected, got, loss } => match loss {
            Loss::Exact(n) => format!("sequence break: expected {expected}, got {got} ({n} ids lost)"),
            Loss::Unknown => format!("sequence break: expected {expected}, got {got} (loss unknown)"),
        },
        SyncEvent::ChecksumOk => "checksum ok".into(),
        SyncEvent::ChecksumMismatch { venue, ours } => format!("checksum mismatch: venue {venue}, ours {ours}"),
        SyncEvent::Rejected { why } => format!("rejected: {why}"),
        _ => return None,
    })
}

/// Replay `updates` (JSON lines) on `snapshot` (a REST depth response), keeping `symbol`'s
/// messages only when given.
pub fn replay(
    venue: Venue,
    snapshot: Option<&str>,
    updates: &str,
    symbol: Option<&str>,
) -> Result<Replay, ReplayError> {
    let mut out = Replay {
        book: OrderBook::default(),
        last_update_id: None,
        symbol: symbol.map(str::to_string),
        stats: SyncStats::default(),
        report: Vec::new(),
        tops: Vec::new(),
        skipped: 0,
    };
    let mut sync = match venue {
        Venue::Binance | Venue::BinanceUsdm => {
            let market = if venue == Venue::Binance { Market::Spot } else { Market::UsdM };
            let text = snapshot.ok_or(ReplayError::SnapshotNeeded { venue })?;
            let snap: DepthSnapshot =
                serde_json::from_str(text).map_err(|e| ReplayError::BadSnapshot(e.to_string()))?;
            let mut book = BinanceBook::new(market);
            for e in book.on_snapshot(&snap) {
                out.stats.count(&e);
            }
            out.last_update_id = Some(snap.last_update_id);
            Sync::Binance(book)
        }
        Venue::Okx => Sync::Okx(OkxBook::new()),
        Venue::Bybit => Sync::Bybit(BybitBook::default()),
    };
    for (n, line) in updates.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let line_no = n + 1;
        let frame: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.report.push(format!("line {line_no}: not JSON: {e}"));
                out.stats.rejected += 1;
                continue;
            }
        };
        let Some((sym, msg)) = parse(&sync, &frame) else {
            out.skipped += 1;
            continue;
        };
        match &out.symbol {
            // A malformed message has no symbol: it is reported whatever symbol is followed.
            _ if sym.is_empty() => {}
            Some(want) if *want != sym => {
                if symbol.is_none() {
                    return Err(ReplayError::MixedSymbols(want.clone(), sym));
                }
                out.skipped += 1;
                continue;
            }
            Some(_) => {}
            None => out.symbol = Some(sym),
        }
        for e in apply(&mut sync, msg) {
            out.stats.count(&e);
            if let Some(text) = describe(&e) {
                out.report.push(format!("line {line_no}: {text}"));
            }
            if let SyncEvent::Applied { last_id } | SyncEvent::Snapshot { last_id } = e {
                out.last_update_id = Some(last_id);
                let top =
                    |l: Option<&crate::book::Level>| l.map(|l| (l.price_text.to_string(), l.size_text.to_string()));
                let book = sync.book();
                out.tops.push(Top { update_id: last_id, bid: top(book.best_bid()), ask: top(book.best_ask()) });
            }
        }
    }
    out.book = sync.book().clone();
    Ok(out)
}

/// A depth message of the replayed venue.
enum Msg {
    Binance(DepthUpdate),
    Okx(BooksPush),
    Bybit(OrderbookPush),
    /// A depth message whose shape is wrong.
    Bad(String),
}

/// The frame's symbol and message, or None if it is not a depth message of this venue.
fn parse(sync: &Sync, frame: &serde_json::Value) -> Option<(String, Msg)> {
    let bad = |e: serde_json::Error| Some((String::new(), Msg::Bad(e.to_string())));
    match sync {
        Sync::Binance(_) => {
            let data = unwrap_stream(frame);
            if data.get("e").and_then(|e| e.as_str()) != Some("depthUpdate") {
                return None;
            }
            match DepthUpdate::deserialize(data) {
                Ok(u) => Some((u.symbol.clone(), Msg::Binance(u))),
                Err(e) => bad(e),
            }
        }
        Sync::Okx(_) => {
            let channel = frame.pointer("/arg/channel").and_then(|c| c.as_str())?;
            if !channel.starts_with("books") || frame.get("action").is_none() {
                return None;
            }
            match BooksPush::deserialize(frame) {
                Ok(p) => Some((p.arg.inst_id.clone(), Msg::Okx(p))),
                Err(e) => bad(e),
            }
        }
        Sync::Bybit(_) => {
            if !frame.get("topic").and_then(|t| t.as_str())?.starts_with("orderbook.") {
                return None;
            }
            match OrderbookPush::deserialize(frame) {
                Ok(p) => Some((p.data.symbol.clone(), Msg::Bybit(p))),
                Err(e) => bad(e),
            }
        }
    }
}

fn apply(sync: &mut Sync, msg: Msg) -> Vec<SyncEvent> {
    match (sync, msg) {
        (_, Msg::Bad(why)) => vec![SyncEvent::Rejected { why }],
        (Sync::Binance(book), Msg::Binance(u)) => vec![book.on_update(u)],
        (Sync::Okx(book), Msg::Okx(p)) => {
            let snapshot = p.action == "snapshot";
            p.data.iter().flat_map(|d| book.on_push(snapshot, d)).collect()
        }
        (Sync::Bybit(book), Msg::Bybit(p)) => vec![book.on_push(p.kind == "snapshot", p.data)],
        _ => unreachable!("parse yields only the venue's own messages"),
    }
}
