//! Data-quality rules shared by every transform, and what a broken one reports.

use crate::reason::QuarantineReason;
use tickwatch_model::Decimal;

/// Thresholds of the rules. Defaults suit live market data; transforms read overrides from
/// their environment (`transform.yaml` `env`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleConfig {
    /// An event time further ahead of the record's broker time than this is refused.
    pub max_future_ms: i64,
    /// An event time further behind the record's broker time than this is refused.
    pub max_age_ms: i64,
    /// A price further from the instrument's last good price than this (basis points) is refused.
    pub max_jump_bps: i64,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig { max_future_ms: 5_000, max_age_ms: 86_400_000, max_jump_bps: 2_000 }
    }
}

impl RuleConfig {
    /// Apply `TW_MAX_FUTURE_MS`, `TW_MAX_AGE_MS`, `TW_MAX_JUMP_BPS` from `vars`; a value that
    /// is not a positive integer is an error naming the variable.
    pub fn with_overrides<'a>(
        mut self,
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RuleConfig, String> {
        for (k, v) in vars {
            let slot = match k {
                "TW_MAX_FUTURE_MS" => &mut self.max_future_ms,
                "TW_MAX_AGE_MS" => &mut self.max_age_ms,
                "TW_MAX_JUMP_BPS" => &mut self.max_jump_bps,
                _ => continue,
            };
            *slot = v
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{k}={v}: expected a positive integer"))?;
        }
        Ok(self)
    }
}

/// A record a rule refused: the code, the rule (with its version) and one line of detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: QuarantineReason,
    pub rule: &'static str,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: QuarantineReason, rule: &'static str, detail: impl Into<String>) -> Rejection {
        Rejection { reason, rule, detail: detail.into() }
    }
}

pub fn positive_price(price: Decimal) -> Result<(), Rejection> {
    if price.is_positive() {
        Ok(())
    } else {
        Err(Rejection::new(
            QuarantineReason::PriceNotPositive,
            "price_positive/v1",
            format!("price {price} is not above 0"),
        ))
    }
}

pub fn positive_size(size: Decimal) -> Result<(), Rejection> {
    if size.is_positive() {
        Ok(())
    } else {
        Err(Rejection::new(
            QuarantineReason::SizeNotPositive,
            "size_positive/v1",
            format!("size {size} is not above 0"),
        ))
    }
}

/// The event time must lie within [broker time − max age, broker time + max future].
pub fn timely(event_time_us: i64, broker_time_ms: i64, cfg: &RuleConfig) -> Result<(), Rejection> {
    let event_ms = event_time_us.div_euclid(1000);
    if event_ms > broker_time_ms + cfg.max_future_ms {
        return Err(Rejection::new(
            QuarantineReason::FutureTimestamp,
            "timestamp_window/v1",
            format!("event time {event_ms} ms is {} ms after the record's time", event_ms - broker_time_ms),
        ));
    }
    if event_ms < broker_time_ms - cfg.max_age_ms {
        return Err(Rejection::new(
            QuarantineReason::StaleTimestamp,
            "timestamp_window/v1",
            format!("event time {event_ms} ms is {} ms before the record's time", broker_time_ms - event_ms),
        ));
    }
    Ok(())
}

/// |price − last| / last in basis points must not exceed the limit. Exact: compares
/// |price − last| × 10 000 with last × limit in 10^-18 units, no division.
pub fn no_jump(price: Decimal, last_good: Option<Decimal>, cfg: &RuleConfig) -> Result<(), Rejection> {
    let Some(last) = last_good else { return Ok(()) };
    let diff = price.checked_sub(last).map(Decimal::abs);
    let lhs = diff.and_then(|d| d.units().checked_mul(10_000));
    let rhs = last.units().checked_mul(cfg.max_jump_bps as i128);
    match (lhs, rhs) {
        (Some(l), Some(r)) if l <= r => Ok(()),
        // Overflow means the numbers are astronomically apart: a jump.
        _ => Err(Rejection::new(
            QuarantineReason::PriceJump,
            "price_jump/v1",
            format!("price {price} is more than {} bps from the last good price {last}", cfg.max_jump_bps),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn positivity() {
        assert!(positive_price(d("0.00000001")).is_ok());
        assert_eq!(positive_price(d("0")).unwrap_err().reason, QuarantineReason::PriceNotPositive);
        assert_eq!(positive_size(d("-1")).unwrap_err().reason, QuarantineReason::SizeNotPositive);
    }

    #[test]
    fn timestamp_window_edges() {
        let cfg = RuleConfig::default();
        let now = 1_700_000_000_000;
        assert!(timely((now + 5_000) * 1000, now, &cfg).is_ok());
        assert_eq!(timely((now + 5_001) * 1000, now, &cfg).unwrap_err().reason, QuarantineReason::FutureTimestamp);
        assert!(timely((now - 86_400_000) * 1000, now, &cfg).is_ok());
        assert_eq!(timely((now - 86_400_001) * 1000, now, &cfg).unwrap_err().reason, QuarantineReason::StaleTimestamp);
    }

    #[test]
    fn jump_is_exact_at_the_limit() {
        let cfg = RuleConfig { max_jump_bps: 100, ..RuleConfig::default() };
        assert!(no_jump(d("101"), Some(d("100")), &cfg).is_ok()); // exactly 100 bps
        assert!(no_jump(d("99"), Some(d("100")), &cfg).is_ok());
        assert_eq!(
            no_jump(d("101.000000000000000001"), Some(d("100")), &cfg).unwrap_err().reason,
            QuarantineReason::PriceJump
        );
        assert!(no_jump(d("5"), None, &cfg).is_ok());
    }

    #[test]
    fn overrides_are_checked() {
        let cfg = RuleConfig::default().with_overrides([("TW_MAX_JUMP_BPS", "50"), ("OTHER", "x")]).unwrap();
        assert_eq!(cfg.max_jump_bps, 50);
        assert!(RuleConfig::default().with_overrides([("TW_MAX_AGE_MS", "-1")]).unwrap_err().contains("TW_MAX_AGE_MS"));
    }
}
