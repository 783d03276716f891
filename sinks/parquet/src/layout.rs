//! Where a file goes in the bucket, and what its name says:
//! `<prefix><dataset>/dt=YYYY-MM-DD/venue=V/instrument=I/HH00-<topic>-p<partition>-<first>-<last>.parquet`.
//! The name carries the source topic, partition and the offsets of its first and last record,
//! so the writer can tell after a restart which records are already stored (and a rerun of
//! the same records writes the same name again instead of a second copy).

use crate::config::Dataset;
use tickwatch_model::time::civil_from_days;

const HOUR_US: i64 = 3_600_000_000;

/// The file a record belongs to (before its offset range is known).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub dataset: Dataset,
    /// Hours since the epoch of the records' event time.
    pub hour: i64,
    pub venue: String,
    pub instrument: String,
    pub topic: String,
    pub partition: i32,
}

/// A stored file's name, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredName {
    pub hour_of_day: i64,
    pub topic: String,
    pub partition: i32,
    pub first: i64,
    pub last: i64,
}

impl FileKey {
    pub fn hour_of(event_time_us: i64) -> i64 {
        event_time_us.div_euclid(HOUR_US)
    }

    /// The end of the file's hour (µs).
    pub fn hour_end_us(&self) -> i64 {
        (self.hour + 1) * HOUR_US
    }

    /// The folder of the file's day, venue and instrument (ends with `/`).
    pub fn folder(&self, prefix: &str) -> String {
        let (y, m, d) = civil_from_days(self.hour.div_euclid(24));
        format!(
            "{prefix}{}/dt={y:04}-{m:02}-{d:02}/venue={}/instrument={}/",
            self.dataset.folder(),
            path_safe(&self.venue),
            path_safe(&self.instrument)
        )
    }

    /// The object key of the file holding offsets `first..=last`.
    pub fn object(&self, prefix: &str, first: i64, last: i64) -> String {
        format!(
            "{}{:02}00-{}-p{}-{first:012}-{last:012}.parquet",
            self.folder(prefix),
            self.hour.rem_euclid(24),
            self.topic,
            self.partition
        )
    }

    /// Is `name` (a file of this key's folder) a file of this key's hour, topic and partition?
    pub fn owns(&self, name: &StoredName) -> bool {
        name.hour_of_day == self.hour.rem_euclid(24) && name.topic == self.topic && name.partition == self.partition
    }
}

/// Read a file name written by [`FileKey::object`] (the part after the folder).
pub fn parse_name(file: &str) -> Option<StoredName> {
    let stem = file.strip_suffix(".parquet")?;
    let mut parts = stem.rsplitn(4, '-');
    let last = parts.next()?.parse().ok()?;
    let first = parts.next()?.parse().ok()?;
    let partition = parts.next()?.strip_prefix('p')?.parse().ok()?;
    let (hour, topic) = parts.next()?.split_once('-')?;
    let hour_of_day = hour.strip_suffix("00")?.parse().ok()?;
    Some(StoredName { hour_of_day, topic: topic.to_string(), partition, first, last })
}

/// Venue and instrument names as key segments: anything but letters, digits, `.`, `_`, `-`
/// is percent-encoded (`/` and `=` would break the Hive-style layout).
pub fn path_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let key = FileKey {
            dataset: Dataset::Trades,
            hour: FileKey::hour_of(1_795_597_200_000_000 + 5_000_000),
            venue: "okx".into(),
            instrument: "BTC/USDT".into(),
            topic: "t-1.trades".into(),
            partition: 2,
        };
        let object = key.object("cold/", 17, 4_242);
        assert_eq!(object, "cold/trades/dt=2026-11-25/venue=okx/instrument=BTC%2FUSDT/0900-t-1.trades-p2-000000000017-000000004242.parquet");
        let name = parse_name(object.rsplit('/').next().unwrap()).unwrap();
        assert_eq!(
            name,
            StoredName { hour_of_day: 9, topic: "t-1.trades".into(), partition: 2, first: 17, last: 4_242 }
        );
        assert!(key.owns(&name));
        assert!(parse_name("notes.txt").is_none());
    }
}
