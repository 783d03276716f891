//! EMA(fast) / EMA(slow) of closing prices per venue, instrument and k-line interval, and their
//! crossovers. The first close seeds both averages; crossovers count once `slow` bars were
//! seen. A corrected bar (same open time, higher version) replaces the last bar's effect: the
//! state before it is kept for exactly that.

use serde::{Deserialize, Serialize};

/// Persisted per series (schema [`STATE_SCHEMA`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmaPoint {
    pub fast: f64,
    pub slow: f64,
    pub bars: u32,
    /// Sign of fast − slow once warmed up (−1, 0, 1), 0 before.
    pub sign: i8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmaSeries {
    pub last_open_us: i64,
    pub last_version: i64,
    /// After the last bar, and before it (for corrections).
    pub now: EmaPoint,
    pub before: Option<EmaPoint>,
}

pub const STATE_SCHEMA: u32 = 1;

/// A crossover: +1 fast crossed above slow, −1 below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cross {
    pub direction: i8,
}

fn step(p: Option<EmaPoint>, close: f64, fast: u32, slow: u32) -> EmaPoint {
    let Some(p) = p else {
        return EmaPoint { fast: close, slow: close, bars: 1, sign: 0 };
    };
    let a = |n: u32| 2.0 / (n as f64 + 1.0);
    let f = p.fast + a(fast) * (close - p.fast);
    let s = p.slow + a(slow) * (close - p.slow);
    let bars = p.bars + 1;
    let sign = if bars >= slow {
        match f.partial_cmp(&s) {
            Some(std::cmp::Ordering::Greater) => 1,
            Some(std::cmp::Ordering::Less) => -1,
            _ => 0,
        }
    } else {
        0
    };
    EmaPoint { fast: f, slow: s, bars, sign }
}

impl EmaSeries {
    /// Apply a bar; returns the crossover it makes, if any. Bars older than the last one
    /// change nothing.
    pub fn on_bar(
        series: &mut Option<EmaSeries>,
        open_us: i64,
        version: i64,
        close: f64,
        fast: u32,
        slow: u32,
    ) -> Option<Cross> {
        let (prev, before) = match series {
            None => (None, None),
            Some(s) if open_us > s.last_open_us => (Some(s.now), Some(s.now)),
            Some(s) if open_us == s.last_open_us && version > s.last_version => (s.before, s.before),
            Some(_) => return None,
        };
        let now = step(prev, close, fast, slow);
        // A correction compares with the state before the corrected bar, like the bar did.
        let from = prev.map_or(0, |p| p.sign);
        let was = series.as_ref().map_or(0, |s| s.now.sign);
        *series = Some(EmaSeries { last_open_us: open_us, last_version: version, now, before });
        let crossed = now.sign != 0 && from != 0 && now.sign != from;
        // A correction that undoes or repeats the cross already reported reports nothing new,
        // unless it now points the other way from what was reported.
        if crossed && now.sign != was {
            Some(Cross { direction: now.sign })
        } else if !crossed && was != from && now.sign == from && from != 0 {
            // The corrected bar no longer crosses: report the way back.
            Some(Cross { direction: from })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(closes: &[f64]) -> Vec<(usize, i8)> {
        let mut s = None;
        let mut out = Vec::new();
        for (i, c) in closes.iter().enumerate() {
            if let Some(x) = EmaSeries::on_bar(&mut s, i as i64 * 60, 1, *c, 2, 4) {
                out.push((i, x.direction));
            }
        }
        out
    }

    #[test]
    fn crosses_are_reported_after_warm_up_only() {
        // Falling, then rising, then falling again.
        let closes = [10.0, 9.0, 8.0, 7.0, 6.0, 8.0, 10.0, 12.0, 9.0, 6.0, 4.0];
        assert_eq!(run(&closes), vec![(6, 1), (9, -1)]);
        // Rising from the start: no cross (nothing to cross from during warm-up).
        assert!(run(&[1.0, 2.0, 3.0, 4.0, 5.0]).is_empty());
    }

    #[test]
    fn a_corrected_bar_replaces_the_last_one() {
        let mut s = None;
        for (i, c) in [10.0, 9.0, 8.0, 7.0, 6.0].iter().enumerate() {
            assert!(EmaSeries::on_bar(&mut s, i as i64, 1, *c, 2, 4).is_none());
        }
        assert_eq!(EmaSeries::on_bar(&mut s, 5, 1, 12.0, 2, 4), Some(Cross { direction: 1 }));
        // The same bar corrected down: the cross is taken back.
        assert_eq!(EmaSeries::on_bar(&mut s, 5, 2, 5.0, 2, 4), Some(Cross { direction: -1 }));
        // An old version or an older bar: nothing.
        assert_eq!(EmaSeries::on_bar(&mut s, 5, 1, 12.0, 2, 4), None);
        assert_eq!(EmaSeries::on_bar(&mut s, 4, 9, 100.0, 2, 4), None);
        let after = s.clone().unwrap();
        assert_eq!((after.last_open_us, after.last_version, after.now.sign), (5, 2, -1));
    }
}
