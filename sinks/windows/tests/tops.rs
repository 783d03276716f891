//! Book windows against an independent computation: random snapshots and deltas for two
//! instruments give, for every window with updates, the best levels, the top-N depths (exact
//! decimals) and the imbalance an oracle computes by replaying the updates before the
//! window's end into a plain map and sorting it; deltas before the first snapshot are
//! skipped and the window the book synced in is not emitted (it would miss updates); a quiet
//! book's windows close by the clock; the restart offset rebuilds every open window whole; an
//! update that arrives with an event time of an already emitted window counts in the next
//! one, so no window is emitted twice.

use std::collections::{BTreeMap, HashMap};
use tickwatch_model::{BookTop, BookUpdate, BookUpdateKind, Decimal, InstrumentKind, PriceLevel};
use tickwatch_sink_windows::{BookTopBuilder, WindowConfig};

const T0: i64 = 1_764_000_000_000_000; // a minute boundary, µs

fn update(
    instrument: &str,
    kind: BookUpdateKind,
    id: i64,
    event_us: i64,
    bids: &[(String, String)],
    asks: &[(String, String)],
) -> BookUpdate {
    let levels = |l: &[(String, String)]| {
        l.iter().map(|(p, s)| PriceLevel { price: p.parse().unwrap(), size: s.parse().unwrap() }).collect()
    };
    BookUpdate {
        venue: "okx".into(),
        instrument: instrument.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: instrument.into(),
        update_kind: kind,
        first_update_id: Some(id),
        last_update_id: id,
        prev_update_id: Some(id - 1),
        checksum: None,
        bids: levels(bids),
        asks: levels(asks),
        event_time_us: event_us,
        receive_time_us: event_us + 2_000,
        source_lag_ms: 2,
    }
}

fn config(levels: usize) -> WindowConfig {
    WindowConfig {
        intervals: vec!["1s".into(), "5s".into()],
        book_levels: levels,
        idle_after_ms: 2_000,
        ..WindowConfig::default()
    }
}

/// Best bid, best ask (price, size), bid depth, ask depth.
type Expected = (Option<(Decimal, Decimal)>, Option<(Decimal, Decimal)>, Decimal, Decimal);

/// The oracle: the book after every update of `instrument` with event time before `end`,
/// as plain maps, sorted when asked.
fn oracle(updates: &[BookUpdate], instrument: &str, end: i64, levels: usize) -> Expected {
    let mut bids: HashMap<Decimal, Decimal> = HashMap::new();
    let mut asks: HashMap<Decimal, Decimal> = HashMap::new();
    let mut synced = false;
    for u in updates.iter().filter(|u| u.instrument == instrument && u.event_time_us < end) {
        if u.update_kind == BookUpdateKind::Snapshot {
            bids.clear();
            asks.clear();
            synced = true;
        }
        if !synced {
            continue;
        }
        for (side, levels) in [(&mut bids, &u.bids), (&mut asks, &u.asks)] {
            for l in levels {
                if l.size == Decimal::ZERO {
                    side.remove(&l.price);
                } else {
                    side.insert(l.price, l.size);
                }
            }
        }
    }
    let mut b: Vec<(Decimal, Decimal)> = bids.into_iter().collect();
    b.sort_by_key(|l| std::cmp::Reverse(l.0));
    let mut a: Vec<(Decimal, Decimal)> = asks.into_iter().collect();
    a.sort_by_key(|l| l.0);
    let depth =
        |v: &[(Decimal, Decimal)]| v.iter().take(levels).fold(Decimal::ZERO, |s, l| s.checked_add(l.1).unwrap());
    (b.first().copied(), a.first().copied(), depth(&b), depth(&a))
}

fn random_updates(seed: u64) -> Vec<BookUpdate> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = Vec::new();
    let mut t = T0;
    let mut ids: HashMap<&str, i64> = HashMap::new();
    let price =
        |rng: &mut fastrand::Rng, base: u32| format!("{}.{:08}", base + rng.u32(0..20), rng.u32(0..100_000_000));
    for n in 0..3_000 {
        t += rng.i64(0..40_000);
        let inst = if n == 0 { "BTC-USDT" } else { ["BTC-USDT", "ETH-USDT"][rng.usize(0..2)] };
        let id = ids.entry(inst).or_insert(100);
        *id += 1;
        // A few deltas before the first snapshot of ETH, a snapshot now and then.
        let snapshot = (inst == "BTC-USDT" && n == 0) || (inst == "ETH-USDT" && *id == 110) || rng.u32(0..500) == 0;
        let side = |rng: &mut fastrand::Rng, base: u32, k: usize| -> Vec<(String, String)> {
            (0..k)
                .map(|_| {
                    let size = if rng.u32(0..4) == 0 {
                        "0".to_string()
                    } else {
                        format!("0.{:09}", rng.u32(1..1_000_000_000))
                    };
                    (price(rng, base), size)
                })
                .collect()
        };
        let (kind, k) =
            if snapshot { (BookUpdateKind::Snapshot, 40) } else { (BookUpdateKind::Delta, rng.usize(1..6)) };
        let bids = side(&mut rng, 100, k);
        let asks = side(&mut rng, 130, k);
        out.push(update(inst, kind, *id, t, &bids, &asks));
    }
    out
}

#[test]
fn book_windows_equal_the_oracle_for_every_window() {
    for seed in 0..10 {
        let updates = random_updates(seed);
        let levels = 5;
        let mut b = BookTopBuilder::new(&config(levels)).unwrap();
        let mut out = Vec::new();
        for (offset, u) in updates.iter().enumerate() {
            b.on_update(u, offset as i64, u.receive_time_us, &mut out);
        }
        b.finish(0, &mut out);
        assert!(out.len() > 100, "seed {seed}: {} windows", out.len());
        let mut seen: BTreeMap<(String, String, i64), &BookTop> = BTreeMap::new();
        for top in &out {
            let key = (top.instrument.clone(), top.interval.clone(), top.window_start_us);
            assert!(seen.insert(key, top).is_none(), "seed {seed}: a window emitted twice: {top:?}");
            let (bid, ask, bid_depth, ask_depth) = oracle(&updates, &top.instrument, top.window_end_us, levels);
            assert_eq!(top.bid_price.zip(top.bid_size), bid, "seed {seed} {top:?}");
            assert_eq!(top.ask_price.zip(top.ask_size), ask, "seed {seed} {top:?}");
            assert_eq!((top.bid_depth, top.ask_depth), (bid_depth, ask_depth), "seed {seed} {top:?}");
            let (bd, ad) = (bid_depth.units() as f64, ask_depth.units() as f64);
            assert_eq!(top.imbalance, (bd + ad > 0.0).then(|| (bd - ad) / (bd + ad)));
            let in_window = updates
                .iter()
                .filter(|u| {
                    u.instrument == top.instrument
                        && (top.window_start_us..top.window_end_us).contains(&u.event_time_us)
                })
                .count() as i64;
            assert!(top.updates <= in_window && top.updates > 0, "seed {seed}: {} updates of {in_window}", top.updates);
        }
        // Every 1s window after the one the book synced in was emitted.
        let synced = updates[0].event_time_us - (updates[0].event_time_us - T0).rem_euclid(1_000_000);
        assert!(
            !seen.contains_key(&("BTC-USDT".into(), "1s".into(), synced)),
            "seed {seed}: the sync window is partial"
        );
        for u in updates.iter().filter(|u| u.instrument == "BTC-USDT") {
            let start = u.event_time_us - (u.event_time_us - T0).rem_euclid(1_000_000);
            if start == synced {
                continue;
            }
            assert!(
                seen.contains_key(&(u.instrument.clone(), "1s".into(), start)),
                "seed {seed}: window {start} missing"
            );
        }
    }
}

#[test]
fn quiet_books_close_by_the_clock_and_the_restart_offset_rebuilds_open_windows_whole() {
    let mut b = BookTopBuilder::new(&config(2)).unwrap();
    let mut out = Vec::new();
    let lv = |p: &str, s: &str| vec![(p.to_string(), s.to_string())];
    // A delta before any snapshot: skipped, no window. The snapshot at the window's start:
    // the book is known from there.
    b.on_update(&update("BTC-USDT", BookUpdateKind::Delta, 1, T0 - 100, &lv("99", "1"), &[]), 0, T0, &mut out);
    b.on_update(
        &update("BTC-USDT", BookUpdateKind::Snapshot, 2, T0, &lv("100", "3"), &lv("101", "1")),
        1,
        T0,
        &mut out,
    );
    b.on_update(&update("BTC-USDT", BookUpdateKind::Delta, 3, T0 + 200, &lv("99.5", "1"), &[]), 2, T0, &mut out);
    assert!(out.is_empty());
    assert_eq!(b.needed_offset(), Some(1));
    b.tick(T0 + 1_000_000, true, &mut out);
    assert!(out.is_empty(), "not quiet long enough");
    b.tick(T0 + 2_500_000, true, &mut out);
    assert_eq!(out.len(), 1, "the 1s window closed by the clock, the 5s one still open: {out:?}");
    let top = &out[0];
    assert_eq!((top.interval.as_str(), top.updates, top.last_update_id), ("1s", 2, 3));
    assert_eq!(top.bid_depth, "4".parse().unwrap());
    assert_eq!(top.imbalance, Some(0.6));
    // A late update of the emitted window counts in the next one; no window twice.
    out.clear();
    b.on_update(
        &update("BTC-USDT", BookUpdateKind::Delta, 4, T0 + 300, &[], &lv("101", "0")),
        3,
        T0 + 2_600_000,
        &mut out,
    );
    b.on_update(
        &update("BTC-USDT", BookUpdateKind::Snapshot, 5, T0 + 6_000_000, &lv("100", "1"), &lv("102", "1")),
        4,
        T0 + 2_700_000,
        &mut out,
    );
    let starts: Vec<(&str, i64)> = out.iter().map(|t| (t.interval.as_str(), t.window_start_us - T0)).collect();
    assert_eq!(starts, [("1s", 1_000_000), ("5s", 0)], "{out:?}");
    assert_eq!(out[0].ask_price, None, "the ask side emptied");
    assert_eq!(out[0].imbalance, Some(1.0));
    // The windows the last snapshot opened are rebuilt whole only from the snapshot before.
    assert_eq!(b.needed_offset(), Some(1));
    out.clear();
    b.on_update(
        &update("BTC-USDT", BookUpdateKind::Delta, 6, T0 + 10_000_000, &lv("100", "2"), &[]),
        5,
        T0 + 2_800_000,
        &mut out,
    );
    assert_eq!(b.needed_offset(), Some(4), "new windows rebuild from the last snapshot");
    // A fresh builder replaying from there: the window the snapshot opened is not emitted.
    let mut replay = BookTopBuilder::new(&config(2)).unwrap();
    let mut again = Vec::new();
    replay.on_update(
        &update("BTC-USDT", BookUpdateKind::Snapshot, 5, T0 + 6_500_000, &lv("100", "1"), &lv("102", "1")),
        4,
        T0,
        &mut again,
    );
    replay.on_update(
        &update("BTC-USDT", BookUpdateKind::Delta, 6, T0 + 10_000_000, &lv("100", "2"), &[]),
        5,
        T0,
        &mut again,
    );
    assert!(again.is_empty(), "{again:?}");
}
