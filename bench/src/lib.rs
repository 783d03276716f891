//! The benchmark suite (`make bench`): each benchmark prints its figures beside a baseline
//! measured in the same run. The benchmarks are in `benches/`; the peer comparison's Python
//! side is in `cryptofeed/`.

pub mod load;

use std::time::{Duration, Instant};
use tickwatch_model::{InstrumentKind, TakerSide, Trade};

/// Items per second of `pass` (which handles `items` items): the mean over passes run until
/// `at_least` has gone by, after one untimed warm-up pass (as the cryptofeed side counts).
pub fn rate(items: usize, at_least: Duration, mut pass: impl FnMut()) -> f64 {
    pass();
    let mut total = Duration::ZERO;
    let mut runs = 0;
    while total < at_least || runs < 3 {
        let start = Instant::now();
        pass();
        total += start.elapsed();
        runs += 1;
    }
    (items * runs) as f64 / total.as_secs_f64()
}

/// `1.23 M/s`, `456 k/s`.
pub fn per_second(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M/s", v / 1e6)
    } else {
        format!("{:.0} k/s", v / 1e3)
    }
}

/// The repository root (this crate's parent folder).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ is in the repository").to_path_buf()
}

/// [`rate`] with an untimed `prepare` before each pass (a fresh session with its books
/// loaded, as the cryptofeed side takes its snapshots outside its timer).
pub fn rate_prepared<S>(
    items: usize,
    at_least: Duration,
    mut prepare: impl FnMut() -> S,
    mut pass: impl FnMut(S),
) -> f64 {
    pass(prepare());
    let mut total = Duration::ZERO;
    let mut runs = 0;
    while total < at_least || runs < 3 {
        let state = prepare();
        let start = Instant::now();
        pass(state);
        total += start.elapsed();
        runs += 1;
    }
    (items * runs) as f64 / total.as_secs_f64()
}

/// `n` seeded synthetic trades over 50 instruments, ~5 000 per second of event time from
/// `start_us`, with 2-place prices and 3-place sizes.
pub fn synthetic_trades(n: usize, start_us: i64) -> Vec<Trade> {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut t = start_us;
    let mut ids = [0u64; 50];
    (0..n)
        .map(|_| {
            t += rng.i64(0..400);
            let inst = rng.usize(0..50);
            ids[inst] += 1;
            Trade {
                venue: "binance".into(),
                instrument: format!("SYN{inst}-USDT"),
                base: format!("SYN{inst}"),
                quote: "USDT".into(),
                kind: InstrumentKind::Spot,
                expiry_us: None,
                venue_symbol: format!("SYN{inst}USDT"),
                trade_id: ids[inst].to_string(),
                price: format!("{}.{:02}", 100 + inst, rng.u32(0..100)).parse().expect("a decimal"),
                size: format!("0.{:03}", rng.u32(1..1000)).parse().expect("a decimal"),
                taker_side: if rng.bool() { TakerSide::Buy } else { TakerSide::Sell },
                event_time_us: t,
                receive_time_us: t + 5_000,
                source_lag_ms: 5,
                sequence: None,
            }
        })
        .collect()
}
