//! PriceSmooth against its state-machine spec (sinks/analytics/src/smooth.rs, README).

use tickwatch_model::{Decimal, SmoothState};
use tickwatch_sink_analytics::smooth::{Smooth, SmoothParams, Tick};

const S: i64 = 1_000_000;
const T0: i64 = 1_764_000_000 * S;

fn params() -> SmoothParams {
    SmoothParams { tick_us: S, ramp_us: 60 * S, max_age_us: 30 * S, jump_bps: 10 }
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Feed (venue, price, seconds after T0) trades; returns every tick.
fn feed(s: &mut Smooth, trades: &[(&str, Decimal, f64)]) -> Vec<Tick> {
    let mut out = Vec::new();
    for (venue, price, at) in trades {
        s.on_trade(&params(), venue, *price, T0 + (*at * S as f64) as i64, &mut out);
    }
    out
}

/// One trade per second on one venue: `price(second)`.
fn steady_feed(seconds: std::ops::Range<i64>, price: impl Fn(i64) -> Decimal) -> Vec<(&'static str, Decimal, f64)> {
    seconds.map(|k| ("binance", price(k), k as f64 + 0.5)).collect()
}

#[test]
fn a_jump_ramps_linearly_and_lands_exactly_within_the_ramp() {
    let mut s = Smooth::new();
    let trades = steady_feed(0..120, |k| if k < 10 { d("100") } else { d("110") });
    let ticks = feed(&mut s, &trades);
    // Ticks at 1 s .. 119 s; the tick at 11 s is the first to see 110.
    assert_eq!(ticks.first().unwrap().tick_us, T0 + S);
    let at = |sec: i64| ticks.iter().find(|t| t.tick_us == T0 + sec * S).unwrap();
    assert_eq!((at(10).price, at(10).state), (d("100"), SmoothState::Steady));
    for k in 1..60 {
        let t = at(10 + k);
        // from 100 to 110 over 60 s, starting one tick before the tick that saw it.
        let want = Decimal::from_units(d("100").units() + d("10").units() * k as i128 / 60);
        assert_eq!((t.price, t.state, t.target), (want, SmoothState::Ramping, d("110")), "tick {k}");
        assert_eq!(t.ramp_end_us, Some(T0 + 70 * S));
    }
    assert_eq!((at(70).price, at(70).state), (d("110"), SmoothState::Steady), "reached 59 s after first seen");
    assert!(ticks.windows(2).all(|w| w[1].version == w[0].version + 1), "one version per tick");
}

#[test]
fn small_moves_are_followed_at_once() {
    let mut s = Smooth::new();
    let ticks = feed(&mut s, &steady_feed(0..5, |k| d(&format!("100.0{k}"))));
    // 100.01 → 100.02 is 1 bps: followed.
    assert!(ticks.iter().all(|t| t.state == SmoothState::Steady && t.price == t.target));
}

#[test]
fn drift_during_a_ramp_keeps_the_deadline_and_a_new_level_gets_its_own() {
    let mut s = Smooth::new();
    let price = |k: i64| match k {
        0..10 => d("100"),
        10..30 if k % 2 == 0 => d("110"), // 110 and 110.1 alternating: 9 bps of drift
        10..30 => d("110.1"),
        _ => d("130"), // a new level at 30 s
    };
    let ticks = feed(&mut s, &steady_feed(0..200, price));
    let at = |sec: i64| ticks.iter().find(|t| t.tick_us == T0 + sec * S).unwrap();
    for k in 11..31 {
        assert_eq!(at(k).ramp_end_us, Some(T0 + 70 * S), "tick {k}: drift keeps the end");
    }
    assert_eq!(at(31).ramp_end_us, Some(T0 + 90 * S), "the jump to 130 gets a fresh 60 s");
    assert_eq!((at(90).price, at(90).state), (d("130"), SmoothState::Steady));
    // Never a jump: every step is at most the ramp's share of its distance.
    for w in ticks.windows(2) {
        let step = (w[1].price.units() - w[0].price.units()).abs();
        assert!(step <= d("30").units() / 60 + 1, "step {} at {}", w[1].price, w[1].tick_us);
    }
}

#[test]
fn the_target_is_the_median_of_fresh_venues() {
    let mut s = Smooth::new();
    let ticks = feed(
        &mut s,
        &[
            ("a", d("100"), 0.1),
            ("b", d("100.04"), 0.2),
            ("c", d("100.02"), 0.3),
            ("a", d("100"), 1.5),
            ("d", d("100.01"), 1.6),
            ("x", d("1"), 1.7),
        ],
    );
    let t1 = &ticks[0];
    assert_eq!((t1.tick_us, t1.target, t1.sources), (T0 + S, d("100.02"), 3));
    // Venue x's 1.0 would move the median; it is older than max_age by 40 s.
    let ticks = feed(&mut s, &[("a", d("100"), 40.0), ("b", d("100"), 40.1), ("a", d("100"), 41.5)]);
    let last = ticks.last().unwrap();
    assert_eq!((last.tick_us, last.target, last.sources), (T0 + 41 * S, d("100"), 2));
}

#[test]
fn stale_inputs_emit_nothing_and_the_ramp_keeps_its_clock() {
    let mut s = Smooth::new();
    let mut trades = steady_feed(0..12, |k| if k < 10 { d("100") } else { d("110") });
    // Silence from 12 s to 100 s (beyond max_age), then trades at 110 again.
    trades.extend(steady_feed(100..103, |_| d("110")));
    let ticks = feed(&mut s, &trades);
    assert!(!ticks.iter().any(|t| t.tick_us > T0 + 42 * S && t.tick_us <= T0 + 100 * S), "no fresh venue, no tick");
    let after = ticks.iter().find(|t| t.tick_us == T0 + 101 * S).unwrap();
    assert_eq!((after.price, after.state), (d("110"), SmoothState::Steady), "the ramp ended at 70 s meanwhile");
}

#[test]
fn a_restart_from_saved_state_continues_exactly() {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut px = 100_000i64; // cents
    let mut trades = Vec::new();
    for k in 0..600 {
        px += rng.i64(-20..=20);
        if rng.u8(..50) == 0 {
            px += rng.i64(-3_000..=3_000); // a jump
        }
        let venue = ["binance", "okx", "bybit"][rng.usize(..3)];
        trades.push((venue, Decimal::from_units(px as i128 * 10_000_000_000_000_000), k as f64 * 0.7));
    }
    let mut whole = Smooth::new();
    let expected = feed(&mut whole, &trades);
    for cut in [1, 77, 300, 599] {
        let mut first = Smooth::new();
        let mut got = feed(&mut first, &trades[..cut]);
        let saved = serde_json::to_string(&first).unwrap();
        let mut restored: Smooth = serde_json::from_str(&saved).unwrap();
        // The broker replays from an older offset: trades already applied come again.
        let replay_from = cut.saturating_sub(20);
        got.extend(feed(&mut restored, &trades[replay_from..]));
        assert_eq!(got, expected, "cut at {cut}");
        assert_eq!(restored, whole);
    }
}
