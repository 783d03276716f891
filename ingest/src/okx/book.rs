//! OKX's book rules: a snapshot replaces the book; each update's `prevSeqId` equals the
//! previous push's `seqId` (a heartbeat repeats it with no levels; after maintenance `seqId`
//! may restart lower, still chained by `prevSeqId`); a non-zero checksum must match ours
//! after the push is applied. Any break leaves the book invalid until the next snapshot
//! (the connector resubscribes). OKX ids do not count messages, so a gap's size is unknown.

use super::checksum::checksum;
use super::messages::BooksData;
use crate::book::{Level, LevelError, Loss, OrderBook, SyncEvent};

pub struct OkxBook {
    book: OrderBook,
    valid: bool,
    last_seq: Option<i64>,
}

fn levels(raw: &[Vec<String>]) -> Result<Vec<Level>, LevelError> {
    raw.iter()
        .map(|l| match l.as_slice() {
            [p, s, ..] => Level::parse(p, s),
            _ => Err(LevelError { price: format!("{l:?}"), size: String::new(), why: "fewer than 2 fields".into() }),
        })
        .collect()
}

impl Default for OkxBook {
    fn default() -> Self {
        OkxBook::new()
    }
}

impl OkxBook {
    pub fn new() -> OkxBook {
        OkxBook { book: OrderBook::default(), valid: false, last_seq: None }
    }

    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    pub fn needs_snapshot(&self) -> bool {
        !self.valid
    }

    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }

    /// Drop the book: updates are ignored until the next snapshot.
    pub fn invalidate(&mut self) {
        self.valid = false;
        self.book.clear();
    }

    /// Apply one push (`snapshot` when `is_snapshot`); returns what happened, in order (the
    /// sequence step, then the checksum result when the venue sent one).
    pub fn on_push(&mut self, is_snapshot: bool, d: &BooksData) -> Vec<SyncEvent> {
        let (bids, asks) = match levels(&d.bids).and_then(|b| Ok((b, levels(&d.asks)?))) {
            Ok(sides) => sides,
            Err(e) => {
                self.valid = false;
                return vec![SyncEvent::Rejected { why: e.to_string() }];
            }
        };
        let id = d.seq_id.unwrap_or(-1);
        let step = if is_snapshot {
            self.book.reset(bids, asks);
            self.valid = true;
            SyncEvent::Snapshot { last_id: id }
        } else if !self.valid {
            return vec![SyncEvent::Buffered];
        } else {
            match (self.last_seq, d.prev_seq_id, d.seq_id) {
                (Some(last), Some(prev), Some(_)) if prev != last => {
                    self.valid = false;
                    self.book.clear();
                    return vec![SyncEvent::Gap { expected: last, got: prev, loss: Loss::Unknown }];
                }
                _ => {
                    self.book.update(bids, asks);
                    SyncEvent::Applied { last_id: id }
                }
            }
        };
        self.last_seq = d.seq_id;
        let mut events = vec![step];
        match d.checksum {
            Some(venue) if venue != 0 => {
                let ours = checksum(&self.book);
                if ours == venue {
                    events.push(SyncEvent::ChecksumOk);
                } else {
                    self.valid = false;
                    self.book.clear();
                    events.push(SyncEvent::ChecksumMismatch { venue, ours });
                }
            }
            _ => {}
        }
        events
    }
}

impl crate::book::SyncedBook for OkxBook {
    fn needs_snapshot(&self) -> bool {
        OkxBook::needs_snapshot(self)
    }
    fn invalidate(&mut self) {
        OkxBook::invalidate(self)
    }
    /// None without a `seqId` too (older feeds): there is no id to compare snapshots at.
    fn current(&self) -> Option<(i64, &OrderBook)> {
        if !self.valid {
            return None;
        }
        Some((self.last_seq?, &self.book))
    }
}
