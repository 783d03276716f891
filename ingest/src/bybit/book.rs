//! Bybit's book rules: a snapshot replaces the book (also the one with `u = 1` after a service
//! restart, and the periodic resend with an unchanged `u`); each delta has `u` one above the
//! previous push's. Ids count pushes, so a gap's size is exact. After a gap the book is
//! invalid until the next snapshot (the connector resubscribes).

use super::messages::OrderbookData;
use crate::book::{take_sides, Loss, OrderBook, SyncEvent};

#[derive(Default)]
pub struct BybitBook {
    book: OrderBook,
    last_u: Option<i64>,
}

impl BybitBook {
    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    pub fn last_id(&self) -> Option<i64> {
        self.last_u
    }

    pub fn needs_snapshot(&self) -> bool {
        self.last_u.is_none()
    }

    /// A push the record was already made of: its level strings become the book's.
    pub fn on_push(&mut self, is_snapshot: bool, d: OrderbookData) -> SyncEvent {
        let (bids, asks) = match take_sides(d.bids, d.asks) {
            Ok(sides) => sides,
            Err(e) => {
                self.invalidate();
                return SyncEvent::Rejected { why: format!("update {}: {e}", d.update_id) };
            }
        };
        if is_snapshot {
            self.book.reset(bids, asks);
            self.last_u = Some(d.update_id);
            return SyncEvent::Snapshot { last_id: d.update_id };
        }
        let Some(last) = self.last_u else { return SyncEvent::Buffered };
        if d.update_id <= last {
            return SyncEvent::Stale { last_id: d.update_id };
        }
        if d.update_id != last + 1 {
            self.invalidate();
            return SyncEvent::Gap {
                expected: last + 1,
                got: d.update_id,
                loss: Loss::Exact((d.update_id - last - 1) as u64),
            };
        }
        self.book.update(bids, asks);
        self.last_u = Some(d.update_id);
        SyncEvent::Applied { last_id: d.update_id }
    }

    /// Drop the book: deltas are ignored until the next snapshot.
    pub fn invalidate(&mut self) {
        self.book.clear();
        self.last_u = None;
    }
}

impl crate::book::SyncedBook for BybitBook {
    fn needs_snapshot(&self) -> bool {
        BybitBook::needs_snapshot(self)
    }
    fn invalidate(&mut self) {
        BybitBook::invalidate(self)
    }
    fn current(&self) -> Option<(i64, &OrderBook)> {
        Some((self.last_u?, &self.book))
    }
}
