//! The benchmark suite (`make bench`): each benchmark prints its figures beside a baseline
//! measured in the same run. The benchmarks are in `benches/`; the peer comparison's Python
//! side is in `cryptofeed/`.

use std::time::{Duration, Instant};

/// Items per second of `pass` (which handles `items` items), the best of several passes
/// run until `at_least` has gone by.
pub fn rate(items: usize, at_least: Duration, mut pass: impl FnMut()) -> f64 {
    pass(); // warm-up
    let (mut best, mut total) = (Duration::MAX, Duration::ZERO);
    let mut runs = 0;
    while total < at_least || runs < 3 {
        let start = Instant::now();
        pass();
        let took = start.elapsed();
        best = best.min(took);
        total += took;
        runs += 1;
    }
    items as f64 / best.as_secs_f64()
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
