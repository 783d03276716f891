//! The window builder, one core: trades → 1s, 5s and 1m bars (exact sums, watermarks, repeat
//! detection) for 50 instruments, beside a floor measured in the same run: the same trades
//! only summed per instrument in a hash map. `cargo bench -p tickwatch-bench --bench windows`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;
use tickwatch_bench::{per_second, rate, synthetic_trades};
use tickwatch_sink_windows::{KlineBuilder, Output, WindowConfig};

fn main() {
    let all = synthetic_trades(1_000_000, 1_764_000_000_000_000);
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
