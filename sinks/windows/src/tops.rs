//! Per venue and instrument, the book at the end of each event-time window: best levels,
//! top-N depth each side and their imbalance (`BookTop`, topics `book.<interval>`).
//!
//! A book is a sequence, not a bag: updates are applied in the order the `depth` topic holds
//! them (the ingestor's order), and a window is emitted with the book as it stood before the
//! first update whose event time reaches the window's end. A quiet book's windows are closed
//! by its event clock moved on by the quiet (wall) time, as for trades. A window is emitted
//! once: an update whose event time falls in an already emitted window counts in the next.
//!
//! Restarts: a window is emitted only when the book was known from the window's start (the
//! snapshot that synced it in this process is not later than the start), so a window that
//! began before the sync is never emitted with half its updates. Each open window remembers
//! the last snapshot applied before it opened; the offset to commit is the oldest of those
//! (or the last snapshot when no window is open). Replaying from there rebuilds every open
//! window whole, and the windows it emits again are the same rows.

use crate::book::LocalBook;
use crate::config::{Interval, IntervalError, WindowConfig};
use std::collections::HashMap;
use tickwatch_model::{BookTop, BookUpdate, BookUpdateKind};
use tickwatch_runtime::hot_book::{self, HotBook};

/// A window being gathered.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    updates: i64,
    /// The offset of the last snapshot applied before the window opened.
    rebuild_from: Option<i64>,
}

struct Stream {
    venue: String,
    instrument: String,
    book: LocalBook,
    /// Per interval: the open window.
    open: Vec<Option<Window>>,
    /// Per interval: the end of the last emitted window.
    closed_until: Vec<i64>,
    /// Offset of the last snapshot applied.
    snapshot_offset: Option<i64>,
    /// Event time of the snapshot that synced the book in this process.
    synced_at_us: Option<i64>,
    last_event_us: i64,
    last_wall_us: i64,
    /// Updated since the last `changed_books`.
    changed: bool,
}

pub struct BookTopBuilder {
    intervals: Vec<Interval>,
    levels: usize,
    idle_after_us: i64,
    streams: HashMap<(String, String), Stream>,
}

impl BookTopBuilder {
    /// The synced books updated since the last call, as the API serves them (top `levels`
    /// each side), keyed as `hot_book::key` names them.
    pub fn changed_books(&mut self, levels: usize, now_ms: i64) -> Vec<(String, HotBook)> {
        let mut out = Vec::new();
        for s in self.streams.values_mut().filter(|s| s.changed && s.book.synced) {
            s.changed = false;
            let (bids, asks) = s.book.levels(levels);
            let book = HotBook {
                bids,
                asks,
                last_update_id: s.book.last_update_id,
                at_ms: s.last_event_us.div_euclid(1_000),
                written_ms: now_ms,
            };
            out.push((hot_book::key(&s.venue, &s.instrument), book));
        }
        out
    }

    pub fn new(cfg: &WindowConfig) -> Result<BookTopBuilder, IntervalError> {
        Ok(BookTopBuilder {
            intervals: cfg.parsed_intervals()?,
            levels: cfg.book_levels,
            idle_after_us: cfg.idle_after_ms * 1_000,
            streams: HashMap::new(),
        })
    }

    /// Apply one update read at `offset`; windows it closes are pushed to `out`.
    pub fn on_update(&mut self, u: &BookUpdate, offset: i64, now_us: i64, out: &mut Vec<BookTop>) {
        let n = self.intervals.len();
        let stream = self.streams.entry((u.venue.clone(), u.instrument.clone())).or_insert_with(|| Stream {
            venue: u.venue.clone(),
            instrument: u.instrument.clone(),
            book: LocalBook::default(),
            open: vec![None; n],
            closed_until: vec![i64::MIN; n],
            snapshot_offset: None,
            synced_at_us: None,
            last_event_us: i64::MIN,
            last_wall_us: now_us,
            changed: false,
        });
        close_until(stream, &self.intervals, self.levels, u.event_time_us, now_us, out);
        let before = stream.snapshot_offset;
        if !stream.book.apply(u) {
            return;
        }
        if u.update_kind == BookUpdateKind::Snapshot {
            stream.snapshot_offset = Some(offset);
            stream.synced_at_us.get_or_insert(u.event_time_us);
        }
        // A window opened by a snapshot is rebuilt whole only from an earlier one.
        let rebuild_from = before.or(stream.snapshot_offset);
        for (i, iv) in self.intervals.iter().enumerate() {
            let start = iv.open_of(u.event_time_us.max(stream.closed_until[i]));
            let window = stream.open[i].get_or_insert(Window { start, updates: 0, rebuild_from });
            window.updates += 1;
        }
        stream.last_event_us = stream.last_event_us.max(u.event_time_us);
        stream.last_wall_us = now_us;
        stream.changed = true;
    }

    /// Close the windows of books quiet for `idle_after_ms` (once the input is read to its
    /// end): their event clock moves on by the quiet time.
    pub fn tick(&mut self, now_us: i64, caught_up: bool, out: &mut Vec<BookTop>) {
        if !caught_up {
            return;
        }
        for stream in self.streams.values_mut() {
            let quiet = now_us - stream.last_wall_us;
            if quiet >= self.idle_after_us && stream.last_event_us > i64::MIN {
                close_until(stream, &self.intervals, self.levels, stream.last_event_us + quiet, now_us, out);
            }
        }
    }

    /// Close every open window (end of a replay).
    pub fn finish(&mut self, now_us: i64, out: &mut Vec<BookTop>) {
        for stream in self.streams.values_mut() {
            close_until(stream, &self.intervals, self.levels, i64::MAX, now_us, out);
        }
    }

    /// The offset a restart must read from to rebuild every book and every open window
    /// whole (`None`: no book yet).
    pub fn needed_offset(&self) -> Option<i64> {
        self.streams
            .values()
            .filter_map(|s| {
                let open = s.open.iter().flatten().filter_map(|w| w.rebuild_from).min();
                open.or(s.snapshot_offset)
            })
            .min()
    }
}

/// Emit every open window of `stream` that ends at or before `event_us`.
fn close_until(
    stream: &mut Stream,
    intervals: &[Interval],
    levels: usize,
    event_us: i64,
    now_us: i64,
    out: &mut Vec<BookTop>,
) {
    for (i, iv) in intervals.iter().enumerate() {
        let Some(Window { start, updates, .. }) = stream.open[i] else { continue };
        let end = start + iv.micros;
        if event_us < end {
            continue;
        }
        stream.open[i] = None;
        stream.closed_until[i] = end;
        // The book was not known from the window's start: part of its updates are missing.
        if stream.synced_at_us.is_none_or(|synced| synced > start) {
            continue;
        }
        let top = stream.book.top(levels);
        out.push(BookTop {
            venue: stream.venue.clone(),
            instrument: stream.instrument.clone(),
            interval: iv.name.clone(),
            window_start_us: start,
            window_end_us: end,
            last_update_id: stream.book.last_update_id,
            updates,
            bid_price: top.bid.map(|l| l.price),
            bid_size: top.bid.map(|l| l.size),
            ask_price: top.ask.map(|l| l.price),
            ask_size: top.ask.map(|l| l.size),
            depth_levels: levels as i32,
            bid_depth: top.bid_depth,
            ask_depth: top.ask_depth,
            imbalance: top.imbalance(),
            version: 1,
            emitted_at_us: now_us,
        });
    }
}
