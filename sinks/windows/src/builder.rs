//! The window builder: per (venue, instrument), tumbling event-time windows of each interval.
//!
//! - The watermark is the newest event time seen minus the allowed lateness; a window closes
//!   (its bar is emitted, version 1) once the watermark reaches its end.
//! - A quiet venue/instrument ([`KlineBuilder::tick`]) still closes its windows: by the
//!   other instruments' event time, or by the wall clock once the input is caught up.
//! - A trade behind the watermark but within the correction horizon joins its (kept) window
//!   and the bar is emitted again with the next version; an older one is [`Output::Late`]
//!   (quarantined with reason `late`). A repeated trade id is counted and dropped.
//! - Windows with no trade give no bar.

use crate::config::{Interval, IntervalError, WindowConfig};
use crate::kline::{KlineWindow, Overflow, Position, TradeId};
use crate::seen::SeenIds;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use tickwatch_model::{Kline, Trade};

/// A multiply-rotate hash of 8 bytes at a time: several times faster than SipHash on short
/// keys, and the keys here are not chosen by an adversary.
#[derive(Default)]
struct FastHasher(u64);

impl FastHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.mix(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }

    /// The end marker `str` hashing adds: one mix, not a byte slice.
    fn write_u8(&mut self, byte: u8) {
        self.mix(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// What the builder hands on.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A bar, first emitted (version 1) or corrected (a higher version).
    Bar(Kline),
    /// A trade too late to correct its bar: to quarantine with reason `late`.
    Late { trade: Trade, watermark_us: i64 },
    /// A bar that cannot be written (a sum beyond `decimal(38, 18)`).
    Overflow(Overflow),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuilderStats {
    pub trades: u64,
    pub duplicates: u64,
    pub late: u64,
    pub corrections: u64,
}

struct Slot {
    open_us: i64,
    window: KlineWindow,
    /// 0 until first emitted.
    version: i64,
    /// The lowest and highest input offsets among its trades.
    min_offset: i64,
    max_offset: i64,
}

struct Stream {
    venue: String,
    instrument: String,
    max_event_us: i64,
    watermark_us: i64,
    last_arrival_us: i64,
    /// Per interval, the kept windows in open-time order.
    slots: Vec<Vec<Slot>>,
    /// Per interval, the index of the first window not yet closed (those before it are).
    pending: Vec<usize>,
    /// Trade ids taken (for repeats).
    seen: SeenIds,
}

pub struct KlineBuilder {
    /// Shortest first.
    intervals: Vec<Interval>,
    /// Every interval a multiple of the shortest: the longer bars are rolled up from it.
    rolled: bool,
    lateness_us: i64,
    horizon_us: i64,
    idle_us: i64,
    /// instrument → its streams, one per venue (a handful): one hash lookup by `&str` per
    /// trade, no key built, then a short scan by venue. A fast hash: the keys are the
    /// configured instruments.
    streams: FastMap<String, Vec<Stream>>,
    /// Offset ranges (lowest, highest) of windows no longer kept, while a replay from the
    /// committed offset could still reach into them.
    retired: Vec<(i64, i64)>,
    pub stats: BuilderStats,
}

impl KlineBuilder {
    pub fn new(cfg: &WindowConfig) -> Result<KlineBuilder, IntervalError> {
        let mut intervals = cfg.parsed_intervals()?;
        intervals.sort_by_key(|i| i.micros);
        intervals.dedup_by_key(|i| i.micros);
        let rolled = intervals.iter().all(|i| i.micros % intervals[0].micros == 0);
        Ok(KlineBuilder {
            intervals,
            rolled,
            lateness_us: cfg.allowed_lateness_ms * 1000,
            horizon_us: cfg.correction_horizon_ms * 1000,
            idle_us: cfg.idle_after_ms * 1000,
            streams: FastMap::default(),
            retired: Vec::new(),
            stats: BuilderStats::default(),
        })
    }

    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    /// Take one trade, read at input `offset` and received at `now_us` (wall clock); bars
    /// closed or corrected by it go to `out`.
    pub fn on_trade(&mut self, t: &Trade, offset: i64, now_us: i64, out: &mut Vec<Output>) {
        self.stats.trades += 1;
        let n = self.intervals.len();
        let venues = match self.streams.get_mut(t.instrument.as_str()) {
            Some(v) => v,
            None => self.streams.entry(t.instrument.clone()).or_default(),
        };
        let at = match venues.iter().position(|s| s.venue == t.venue) {
            Some(at) => at,
            None => {
                venues.push(Stream {
                    venue: t.venue.clone(),
                    instrument: t.instrument.clone(),
                    max_event_us: i64::MIN,
                    watermark_us: i64::MIN,
                    last_arrival_us: now_us,
                    slots: (0..n).map(|_| Vec::new()).collect(),
                    pending: vec![0; n],
                    seen: SeenIds::default(),
                });
                venues.len() - 1
            }
        };
        let s = &mut venues[at];
        s.last_arrival_us = now_us;
        let id = TradeId::new(&t.trade_id);
        if s.seen.insert(&id, t.event_time_us) {
            self.stats.duplicates += 1;
            return;
        }
        if s.watermark_us != i64::MIN && t.event_time_us < s.watermark_us - self.horizon_us {
            self.stats.late += 1;
            out.push(Output::Late { watermark_us: s.watermark_us, trade: t.clone() });
            return;
        }
        let piece =
            Piece { content: Content::Trade(Position { event_us: t.event_time_us, id }, t), min: offset, max: offset };
        let ctx = Ctx { intervals: &self.intervals, rolled: self.rolled, now_us };
        if ctx.rolled {
            // One update per trade: the longer bars take the finest ones as they close, and
            // the trade itself only when its finest bar is out already (a correction).
            if put(s, &ctx, 0, t.event_time_us, &piece, out, &mut self.stats) {
                for i in 1..ctx.intervals.len() {
                    put(s, &ctx, i, t.event_time_us, &piece, out, &mut self.stats);
                }
            }
        } else {
            for i in 0..ctx.intervals.len() {
                put(s, &ctx, i, t.event_time_us, &piece, out, &mut self.stats);
            }
        }
        if t.event_time_us > s.max_event_us {
            s.max_event_us = t.event_time_us;
            let wm = t.event_time_us - self.lateness_us;
            if wm > s.watermark_us {
                let ctx = Ctx { intervals: &self.intervals, rolled: self.rolled, now_us };
                advance(s, &ctx, wm, self.horizon_us, out, &mut self.retired, &mut self.stats);
            }
        }
        s.seen.prune(s.watermark_us.saturating_sub(self.horizon_us));
    }

    /// Close the windows of quiet streams. A stream `idle_after` behind the newest event
    /// time of the others is moved up to that time less `idle_after` (event time: right even
    /// when the consumer lags). When the input is `caught_up` (nothing left to read), a
    /// stream quiet for `idle_after` of wall time has its event clock moved on by the quiet
    /// time (not set to the wall clock: a replay of old trades must not see its windows closed
    /// by today's date).
    pub fn tick(&mut self, now_us: i64, caught_up: bool, out: &mut Vec<Output>) {
        let newest = self.streams.values().flat_map(|v| v.iter()).map(|s| s.max_event_us).max();
        let Some(newest) = newest else { return };
        for s in self.streams.values_mut().flat_map(|v| v.iter_mut()) {
            let mut clock = s.max_event_us.max(newest.saturating_sub(self.idle_us));
            let quiet = now_us - s.last_arrival_us;
            if caught_up && quiet >= self.idle_us {
                clock = clock.max(s.max_event_us.saturating_add(quiet));
            }
            let wm = clock.saturating_sub(self.lateness_us);
            if clock > s.max_event_us && wm > s.watermark_us {
                let ctx = Ctx { intervals: &self.intervals, rolled: self.rolled, now_us };
                advance(s, &ctx, wm, self.horizon_us, out, &mut self.retired, &mut self.stats);
            }
        }
    }

    /// The offset to commit: replaying from it rebuilds every window that can still change,
    /// and every window it reaches into is rebuilt whole (a partition holds many instruments
    /// whose windows interleave), so a bar emitted again is the same bar. None: nothing is
    /// needed (commit past the last offset read).
    pub fn needed_offset(&mut self) -> Option<i64> {
        let slots = self.streams.values().flat_map(|v| v.iter()).flat_map(|s| s.slots.iter().flatten());
        let Some(mut at) = slots.map(|s| s.min_offset).min() else {
            self.retired.clear();
            return None;
        };
        while let Some(lower) = self.retired.iter().filter(|(lo, hi)| *hi >= at && *lo < at).map(|(lo, _)| *lo).min() {
            at = lower;
        }
        self.retired.retain(|(_, hi)| *hi >= at);
        Some(at)
    }

    /// The end of the input (a replay, a backfill): close every window.
    pub fn finish(&mut self, now_us: i64, out: &mut Vec<Output>) {
        for s in self.streams.values_mut().flat_map(|v| v.iter_mut()) {
            let ctx = Ctx { intervals: &self.intervals, rolled: self.rolled, now_us };
            advance(s, &ctx, i64::MAX, self.horizon_us, out, &mut self.retired, &mut self.stats);
        }
    }
}

fn emit(venue: &str, instrument: &str, interval: &Interval, slot: &Slot, now_us: i64) -> Output {
    match slot.window.kline(venue, instrument, interval, slot.open_us, slot.version, now_us) {
        Ok(k) => Output::Bar(k),
        Err(e) => Output::Overflow(e),
    }
}

/// What every step of one trade or one watermark move shares.
struct Ctx<'a> {
    intervals: &'a [Interval],
    rolled: bool,
    now_us: i64,
}

/// What goes into a window: one trade, or a finer window's content (rolled up).
enum Content<'a> {
    Trade(Position, &'a Trade),
    Window(Box<KlineWindow>),
}

/// Content on its way into a window, with its input offsets.
struct Piece<'a> {
    content: Content<'a>,
    min: i64,
    max: i64,
}

impl Piece<'_> {
    fn fold_into(&self, w: &mut KlineWindow) {
        match &self.content {
            Content::Trade(at, t) => w.add(at, t),
            Content::Window(other) => w.merge(other),
        }
    }

    fn window(&self) -> KlineWindow {
        match &self.content {
            Content::Trade(at, t) => KlineWindow::new(at.clone(), t),
            Content::Window(w) => (**w).clone(),
        }
    }
}

/// Fold `piece` into interval `i`'s window holding `event_us`; a window already out is
/// emitted again with the next version, one behind the watermark seen first now is emitted
/// at once. True when the window was out (emitted) after this.
fn put(
    s: &mut Stream,
    ctx: &Ctx,
    i: usize,
    event_us: i64,
    piece: &Piece,
    out: &mut Vec<Output>,
    stats: &mut BuilderStats,
) -> bool {
    let interval = &ctx.intervals[i];
    let open_us = interval.open_of(event_us);
    let slots = &mut s.slots[i];
    // Pieces mostly land in the newest window: search from the back.
    match slots.iter().rposition(|w| w.open_us <= open_us) {
        Some(p) if slots[p].open_us == open_us => {
            let slot = &mut slots[p];
            piece.fold_into(&mut slot.window);
            slot.min_offset = slot.min_offset.min(piece.min);
            slot.max_offset = slot.max_offset.max(piece.max);
            if slot.version > 0 {
                slot.version += 1;
                stats.corrections += 1;
                out.push(emit(&s.venue, &s.instrument, interval, slot, ctx.now_us));
                return true;
            }
            false
        }
        p => {
            let mut slot =
                Slot { open_us, window: piece.window(), version: 0, min_offset: piece.min, max_offset: piece.max };
            let q = p.map_or(0, |p| p + 1);
            let behind = q < s.pending[i];
            if behind {
                // A window the watermark already passed, seen first now: out at once.
                slot.version = 1;
                out.push(emit(&s.venue, &s.instrument, interval, &slot, ctx.now_us));
                s.pending[i] += 1;
            }
            slots.insert(q, slot);
            behind
        }
    }
}

/// Set the watermark: emit the windows it closes (rolling each finest one up into the
/// longer ones first), forget those beyond correction (keeping their offset ranges in
/// `retired`).
fn advance(
    s: &mut Stream,
    ctx: &Ctx,
    wm: i64,
    horizon_us: i64,
    out: &mut Vec<Output>,
    retired: &mut Vec<(i64, i64)>,
    stats: &mut BuilderStats,
) {
    s.watermark_us = wm;
    for (i, interval) in ctx.intervals.iter().enumerate() {
        while let Some(slot) = s.slots[i].get_mut(s.pending[i]) {
            if slot.open_us.saturating_add(interval.micros) > wm {
                break;
            }
            slot.version = 1;
            out.push(emit(&s.venue, &s.instrument, interval, slot, ctx.now_us));
            s.pending[i] += 1;
            if ctx.rolled && i == 0 {
                let slot = &s.slots[0][s.pending[0] - 1];
                let first_us = slot.window.first_event_us();
                let piece = Piece {
                    content: Content::Window(Box::new(slot.window.clone())),
                    min: slot.min_offset,
                    max: slot.max_offset,
                };
                for j in 1..ctx.intervals.len() {
                    put(s, ctx, j, first_us, &piece, out, stats);
                }
            }
        }
        let keep_from = wm.saturating_sub(horizon_us);
        let slots = &mut s.slots[i];
        let gone = slots.iter().take_while(|w| w.open_us.saturating_add(interval.micros) <= keep_from).count();
        // Mostly none: the watermark moves with nearly every trade, a window ages out rarely.
        if gone > 0 {
            retired.extend(slots.drain(..gone).map(|w| (w.min_offset, w.max_offset)));
            s.pending[i] -= gone;
        }
    }
}
