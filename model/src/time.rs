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

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (the inverse
/// of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(7_919) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

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
