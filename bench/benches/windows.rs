//! The window builder, one core: trades → 1s, 5s and 1m bars (exact sums, watermarks, repeat
//! detection) for 50 instruments, beside a floor measured in the same run: the same trades
//! only summed per instrument in a hash map. `cargo bench -p tickwatch-bench --bench windows`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;
use tickwatch_bench::{per_second, rate};
use tickwatch_model::{InstrumentKind, TakerSide, Trade};
use tickwatch_sink_windows::{KlineBuilder, Output, WindowConfig};

fn trades(n: usize) -> Vec<Trade> {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut t = 1_764_000_000_000_000i64;
    let mut ids = [0u64; 50];
    (0..n)
        .map(|_| {
            t += rng.i64(0..400); // ~5 000 trades per second of event time
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
                price: format!("{}.{:02}", 100 + inst, rng.u32(0..100)).parse().unwrap(),
                size: format!("0.{:03}", rng.u32(1..1000)).parse().unwrap(),
                taker_side: if rng.bool() { TakerSide::Buy } else { TakerSide::Sell },
                event_time_us: t,
                receive_time_us: t + 5_000,
                source_lag_ms: 5,
                sequence: None,
            }
        })
        .collect()
}

fn main() {
    let all = trades(1_000_000);
    let cfg = WindowConfig::default();
    let mut bars = 0;
    let ours = rate(all.len(), Duration::from_secs(3), || {
        let mut b = KlineBuilder::new(&cfg).unwrap();
        let mut out: Vec<Output> = Vec::with_capacity(1024);
        for t in &all {
            b.on_trade(t, 0, t.receive_time_us, &mut out);
            bars += out.len();
            out.clear();
        }
        black_box(&b);
    });
    let floor = rate(all.len(), Duration::from_secs(3), || {
        let mut sums: HashMap<&str, i128> = HashMap::new();
        for t in &all {
            *sums.entry(t.instrument.as_str()).or_default() += t.size.units();
        }
        black_box(sums);
    });
    println!("Window builder, one core: {} trades, 50 instruments, intervals 1s 5s 1m", all.len());
    println!("| path | trades/s | of floor |");
    println!("|---|---|---|");
    println!(
        "| window builder (OHLCV, VWAP, taker volumes, watermarks, repeats) | {} | {:.2} |",
        per_second(ours),
        ours / floor
    );
    println!("| floor: a hash-map sum of sizes per instrument | {} | 1.00 |", per_second(floor));
    black_box(bars);
}
