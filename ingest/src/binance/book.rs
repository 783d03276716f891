//! Binance's local-book rules. Buffer the stream, fetch a snapshot, then:
//! - spot: drop events with `u <= lastUpdateId`; the first applied event has
//!   `U <= lastUpdateId + 1 <= u`; afterwards each event starts at or before the book's id + 1
//!   (normally `U = previous u + 1`). Ids count changes, so a gap's size is exact.
//! - USD-M: drop events with `u < lastUpdateId`; the first applied event has
//!   `U <= lastUpdateId <= u`; afterwards `pu` equals the previous event's `u`. A gap's size
//!   is unknown.
//!
//! After a gap the book is invalid: events are buffered again until the next snapshot.

use super::messages::{DepthSnapshot, DepthUpdate};
use crate::book::{parse_sides, take_sides, Level, LevelError, Loss, OrderBook, SyncEvent};

/// A depth diff as the book takes it: its ids, and its levels read once (the fast path
/// builds the raw record from the same levels). A level that cannot be read is kept as the
/// error and counts only if the diff is applied: a stale diff is dropped as before.
#[derive(Debug, Clone)]
pub struct BookDiff {
    pub first_id: i64,
    pub last_id: i64,
    /// The previous event's `u` (USD-M only).
    pub prev_last_id: Option<i64>,
    pub levels: Result<(Vec<Level>, Vec<Level>), LevelError>,
}

impl BookDiff {
    /// The diff's levels become the book's, their texts the message's strings.
    pub fn new(u: DepthUpdate) -> BookDiff {
        BookDiff {
            first_id: u.first_id,
            last_id: u.last_id,
            prev_last_id: u.prev_last_id,
            levels: take_sides(u.bids, u.asks),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Market {
    Spot,
    UsdM,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No valid book: buffering until a snapshot.
    Waiting,
    /// A snapshot is in, no event applied on it yet.
    Snapshot { id: i64 },
    /// In sync at update id `id`.
    Live { id: i64 },
}

pub struct BinanceBook {
    market: Market,
    book: OrderBook,
    state: State,
    buffer: Vec<BookDiff>,
}

impl BinanceBook {
    pub fn new(market: Market) -> BinanceBook {
        BinanceBook { market, book: OrderBook::default(), state: State::Waiting, buffer: Vec::new() }
    }

    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    /// The update id the book stands at, if it is valid.
    pub fn last_id(&self) -> Option<i64> {
        match self.state {
            State::Waiting => None,
            State::Snapshot { id } | State::Live { id } => Some(id),
        }
    }

    /// True while the book waits for a snapshot (at start and after a break).
    pub fn needs_snapshot(&self) -> bool {
        self.state == State::Waiting
    }

    /// Load a snapshot, then replay the buffered events on it.
    pub fn on_snapshot(&mut self, snap: &DepthSnapshot) -> Vec<SyncEvent> {
        let (bids, asks) = match parse_sides(&snap.bids, &snap.asks) {
            Ok(sides) => sides,
            Err(e) => return vec![SyncEvent::Rejected { why: format!("snapshot {e}") }],
        };
        self.book.reset(bids, asks);
        self.state = State::Snapshot { id: snap.last_update_id };
        let mut events = vec![SyncEvent::Snapshot { last_id: snap.last_update_id }];
        for u in std::mem::take(&mut self.buffer) {
            let e = self.on_diff(u);
            let broke = e.breaks_book();
            events.push(e);
            if broke {
                break;
            }
        }
        events
    }

    pub fn on_update(&mut self, u: DepthUpdate) -> SyncEvent {
        self.on_diff(BookDiff::new(u))
    }

    /// [`BinanceBook::on_update`] of a diff whose levels are already read.
    pub fn on_diff(&mut self, u: BookDiff) -> SyncEvent {
        let decision = match (self.market, self.state) {
            (_, State::Waiting) => {
                self.buffer.push(u);
                return SyncEvent::Buffered;
            }
            // The first event after the snapshot and every later one obey the same bounds.
            (Market::Spot, State::Snapshot { id } | State::Live { id }) => {
                if u.last_id <= id {
                    Err(None)
                } else if u.first_id > id + 1 {
                    Err(Some((id + 1, u.first_id, Loss::Exact((u.first_id - id - 1) as u64))))
                } else {
                    Ok(())
                }
            }
            (Market::UsdM, State::Snapshot { id }) => {
                if u.last_id < id {
                    Err(None)
                } else if u.first_id > id {
                    Err(Some((id, u.first_id, Loss::Unknown)))
                } else {
                    Ok(())
                }
            }
            (Market::UsdM, State::Live { id }) => match u.prev_last_id {
                _ if u.last_id <= id => Err(None),
                Some(pu) if pu == id => Ok(()),
                Some(pu) => Err(Some((id, pu, Loss::Unknown))),
                None => return SyncEvent::Rejected { why: format!("USD-M update {} has no pu", u.last_id) },
            },
        };
        match decision {
            Err(None) => SyncEvent::Stale { last_id: u.last_id },
            Err(Some((expected, got, loss))) => {
                self.invalidate();
                self.buffer.push(u);
                SyncEvent::Gap { expected, got, loss }
            }
            Ok(()) => self.apply(u),
        }
    }

    fn apply(&mut self, u: BookDiff) -> SyncEvent {
        let last_id = u.last_id;
        let (bids, asks) = match u.levels {
            Ok(sides) => sides,
            Err(e) => {
                // A level we cannot read leaves the book unknowable: rebuild.
                self.invalidate();
                return SyncEvent::Rejected { why: format!("update {last_id}: {e}") };
            }
        };
        self.book.update(bids, asks);
        self.state = State::Live { id: last_id };
        SyncEvent::Applied { last_id }
    }

    /// Drop the book: it waits for (and buffers until) the next snapshot.
    pub fn invalidate(&mut self) {
        self.book.clear();
        self.state = State::Waiting;
    }
}

impl crate::book::SyncedBook for BinanceBook {
    fn needs_snapshot(&self) -> bool {
        BinanceBook::needs_snapshot(self)
    }
    fn invalidate(&mut self) {
        BinanceBook::invalidate(self)
    }
    fn current(&self) -> Option<(i64, &OrderBook)> {
        Some((self.last_id()?, &self.book))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(first: i64, last: i64, bid: (&str, &str)) -> DepthUpdate {
        DepthUpdate {
            event_time: 0,
            transaction_time: None,
            symbol: "BNBBTC".into(),
            first_id: first,
            last_id: last,
            prev_last_id: None,
            bids: vec![(bid.0.into(), bid.1.into())],
            asks: vec![],
        }
    }

    #[test]
    fn a_bad_level_counts_only_in_a_diff_that_applies() {
        let mut book = BinanceBook::new(Market::Spot);
        // Buffered before the snapshot, with a good level: applied when the snapshot comes.
        assert_eq!(book.on_update(diff(99, 101, ("1.5", "2"))), SyncEvent::Buffered);
        let snap = DepthSnapshot { last_update_id: 100, bids: vec![("1.4".into(), "1".into())], asks: vec![] };
        let events = book.on_snapshot(&snap);
        assert_eq!(events[1], SyncEvent::Applied { last_id: 101 });
        assert_eq!(book.book().depth(), (2, 0));
        // A repeat with an unreadable level is stale: dropped, the book stays in sync.
        assert_eq!(book.on_update(diff(100, 101, ("0", "2"))), SyncEvent::Stale { last_id: 101 });
        assert_eq!(book.last_id(), Some(101));
        // The next diff with one: refused, and the book waits for a snapshot.
        let SyncEvent::Rejected { why } = book.on_update(diff(102, 102, ("-1", "2"))) else { panic!() };
        assert!(why.contains("update 102"), "{why}");
        assert!(book.needs_snapshot());
    }
}
