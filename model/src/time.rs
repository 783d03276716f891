//! Time is UTC, in microseconds since the Unix epoch, everywhere inside the pipeline.

/// Microseconds since the epoch, UTC.
pub type UnixMicros = i64;

pub const MICROS_PER_MILLI: i64 = 1_000;

pub fn millis_to_micros(ms: i64) -> UnixMicros {
    ms.saturating_mul(MICROS_PER_MILLI)
}

/// `receive - event` in whole milliseconds (negative when the venue clock runs ahead).
pub fn source_lag_ms(event_time_us: UnixMicros, receive_time_us: UnixMicros) -> i64 {
    (receive_time_us - event_time_us).div_euclid(MICROS_PER_MILLI)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 24), 20_781);
    }

    #[test]
    fn lag_rounds_down() {
        assert_eq!(source_lag_ms(1_000_000, 1_002_500), 2);
        assert_eq!(source_lag_ms(1_002_500, 1_000_000), -3);
    }
}
