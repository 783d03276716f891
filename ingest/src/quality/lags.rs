//! The source lags of one data-quality minute, for its P95, in a fixed amount of memory.
//!
//! A busy stream sends tens of thousands of messages a minute. Keeping every lag to sort
//! would hold (and free, every minute) a buffer of that size per stream; keeping only the
//! first N would give the P95 of the minute's first seconds. Instead each lag is counted in
//! a bucket: lags below 1 024 ms in a bucket of their own (exact), longer ones in buckets a
//! 64th of their power of two wide (the P95 is then the bucket's lower bound, less than
//! 1.6 % under the true value). Negative lags (a venue clock ahead of ours) mirror that.

use std::collections::BTreeMap;

/// Lags below this many ms are counted exactly.
const EXACT_BELOW: u64 = 1024;
/// Buckets per power of two above [`EXACT_BELOW`], as a power of two.
const SUB_BUCKET_BITS: u32 = 6;

#[derive(Debug, Default, Clone)]
pub struct LagHistogram {
    /// Bucket (its lowest lag, ms) → messages.
    counts: BTreeMap<i64, u64>,
    total: u64,
}

impl LagHistogram {
    pub fn add(&mut self, lag_ms: i64) {
        *self.counts.entry(bucket(lag_ms)).or_default() += 1;
        self.total += 1;
    }

    /// The nearest-rank P95 (the lag at rank ⌈0.95 n⌉ in ascending order), None when empty.
    pub fn p95(&self) -> Option<f64> {
        let rank = (self.total as f64 * 0.95).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (&lag, &n) in &self.counts {
            seen += n;
            if seen >= rank {
                return Some(lag as f64);
            }
        }
        None
    }
}

/// The bucket of `lag_ms`, named by the lag it starts at (toward zero for negative lags).
fn bucket(lag_ms: i64) -> i64 {
    let magnitude = lag_ms.unsigned_abs();
    let start = if magnitude < EXACT_BELOW {
        magnitude
    } else {
        let width_bits = magnitude.ilog2() - SUB_BUCKET_BITS;
        magnitude >> width_bits << width_bits
    };
    // At most |i64::MIN| = 2^63, whose bucket start is itself: i64::MIN again.
    let start = start as i64;
    if lag_ms < 0 {
        start.wrapping_neg()
    } else {
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The P95 by sorting every lag, as the histogram must reproduce it below 1 024 ms.
    fn sorted_p95(mut lags: Vec<i64>) -> f64 {
        lags.sort_unstable();
        let rank = ((lags.len() as f64) * 0.95).ceil() as usize;
        lags[rank.clamp(1, lags.len()) - 1] as f64
    }

    #[test]
    fn short_lags_give_the_exact_p95() {
        let mut seed = 17u64;
        for n in [1usize, 2, 19, 20, 21, 1000, 48_000] {
            let mut h = LagHistogram::default();
            let lags: Vec<i64> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (seed >> 33) as i64 % 2000 - 977
                })
                .collect();
            lags.iter().for_each(|&l| h.add(l));
            assert_eq!(h.p95(), Some(sorted_p95(lags)), "{n} lags");
        }
        assert_eq!(LagHistogram::default().p95(), None);
    }

    #[test]
    fn long_lags_are_within_a_bucket_below() {
        for lag in [1024i64, 1500, 65_000, 3_600_000, 86_400_000_000] {
            let mut h = LagHistogram::default();
            (0..100).for_each(|_| h.add(lag));
            let p95 = h.p95().unwrap();
            assert!(p95 <= lag as f64 && p95 > lag as f64 * (1.0 - 1.0 / 64.0), "{lag} → {p95}");
            let mut h = LagHistogram::default();
            (0..100).for_each(|_| h.add(-lag));
            assert!(h.p95().unwrap() >= -(lag as f64) && h.p95().unwrap() < 0.0, "-{lag}");
        }
        // The order of buckets follows the order of lags, across zero and across scales.
        let starts: Vec<i64> =
            [i64::MIN, -5000, -1023, -1, 0, 1, 1023, 1024, 1040, 5000, i64::MAX].map(bucket).to_vec();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
        // One minute of one busy stream holds a bounded number of buckets.
        let mut h = LagHistogram::default();
        (0..100_000).for_each(|i| h.add(i * 37 % 1_000_000));
        assert!(h.counts.len() < 1024 + 64 * 10, "{}", h.counts.len());
    }
}
