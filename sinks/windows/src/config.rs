//! What the user writes for the window builder (the `windows:` section of the sink's config).

use serde::Deserialize;

/// One window length, named as the topics are (`kline.1m`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub name: String,
    pub micros: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("window interval `{0}`: write a whole number and s, m, h or d (1s, 5s, 1m, 1h, 1d)")]
pub struct IntervalError(pub String);

impl Interval {
    pub fn parse(text: &str) -> Result<Interval, IntervalError> {
        let err = || IntervalError(text.into());
        let unit = text.chars().last().ok_or_else(err)?;
        let n: i64 = text[..text.len() - unit.len_utf8()].parse().map_err(|_| err())?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return Err(err()),
        };
        if n <= 0 {
            return Err(err());
        }
        Ok(Interval { name: text.into(), micros: n * seconds * 1_000_000 })
    }

    /// The start of the window holding `t_us` (windows are aligned to the Unix epoch).
    pub fn open_of(&self, t_us: i64) -> i64 {
        t_us.div_euclid(self.micros) * self.micros
    }
}

/// The window builder's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Window lengths: `[1s, 5s, 1m]`.
    #[serde(default = "default_intervals")]
    pub intervals: Vec<String>,
    /// How far behind the newest event time a trade may arrive and still be in its bar's
    /// first emission (ms; 2000–5000 suits live venues).
    #[serde(default = "default_lateness")]
    pub allowed_lateness_ms: i64,
    /// How far behind the watermark a trade may arrive and still correct an emitted bar
    /// (re-emitted with a higher version); later ones are quarantined as `late` (ms).
    #[serde(default = "default_horizon")]
    pub correction_horizon_ms: i64,
    /// A venue/instrument without trades for this long (wall clock) has its watermark moved
    /// by the clock, so that its windows still close (ms).
    #[serde(default = "default_idle")]
    pub idle_after_ms: i64,
    /// Order-book windows (`book.<interval>`): levels summed each side for the depth and
    /// the imbalance.
    #[serde(default = "default_book_levels")]
    pub book_levels: usize,
}

fn default_intervals() -> Vec<String> {
    vec!["1s".into(), "5s".into(), "1m".into()]
}
fn default_lateness() -> i64 {
    3_000
}
fn default_horizon() -> i64 {
    300_000
}
fn default_idle() -> i64 {
    5_000
}
fn default_book_levels() -> usize {
    10
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            intervals: default_intervals(),
            allowed_lateness_ms: default_lateness(),
            correction_horizon_ms: default_horizon(),
            idle_after_ms: default_idle(),
            book_levels: default_book_levels(),
        }
    }
}

impl WindowConfig {
    pub fn parsed_intervals(&self) -> Result<Vec<Interval>, IntervalError> {
        self.intervals.iter().map(|i| Interval::parse(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_and_align() {
        assert_eq!(Interval::parse("5s").unwrap().micros, 5_000_000);
        assert_eq!(Interval::parse("1h").unwrap().micros, 3_600_000_000);
        for bad in ["", "s", "0m", "-1s", "5x", "1.5m"] {
            assert!(Interval::parse(bad).is_err(), "{bad}");
        }
        let m = Interval::parse("1m").unwrap();
        assert_eq!(m.open_of(61_500_000), 60_000_000);
        assert_eq!(m.open_of(-1), -60_000_000);
    }
}
