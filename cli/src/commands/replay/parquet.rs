//! Replay from the Parquet history: the files of one dataset folder whose day and hour meet
//! the range (optionally one venue's or instrument's), their rows with an event time in the
//! range read back as the records they were written from, and published in the order the
//! writer read them (source topic, partition, offset; a row stored twice goes once). The
//! key is the instrument, as on the live topics; the record time is the event time (the
//! files do not keep the broker's); the replay header names the original record.

use super::{replay_header, BATCH};
use anyhow::Context;
use tickwatch_model::time::civil_from_days;
use tickwatch_model::{wire, DexSwap, Kline, ReferencePrice, Trade};
use tickwatch_runtime::broker::{OwnedRecord, ReliableProducer};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_sink_parquet::layout::{parse_name, path_safe};
use tickwatch_sink_parquet::read::{read_file, FromCold, StoredRow};
use tickwatch_sink_parquet::store::Bucket;
use tickwatch_sink_parquet::Dataset;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Which files: all, or one venue's, or one instrument's.
pub struct Only {
    pub venue: Option<String>,
    pub instrument: Option<String>,
}

/// A dataset folder named by an `s3://bucket/prefix/dataset/` URL.
#[derive(Debug, PartialEq, Eq)]
struct Folder {
    bucket: String,
    /// The key prefix of the folder, ending with `/`.
    prefix: String,
    dataset: Dataset,
}

fn parse_url(url: &str) -> anyhow::Result<Folder> {
    let usage =
        "--from-parquet takes a dataset folder: s3://<bucket>/<key_prefix><trades|klines|reference_prices|dex_swaps>/";
    let rest = url.strip_prefix("s3://").with_context(|| format!("`{url}` is not an s3:// URL; {usage}"))?;
    let (bucket, key) = rest.split_once('/').with_context(|| format!("`{url}` names no folder; {usage}"))?;
    let key = key.trim_end_matches('/');
    let last = key.rsplit('/').next().unwrap_or_default();
    let dataset = [Dataset::Trades, Dataset::Klines, Dataset::Reference, Dataset::DexSwaps]
        .into_iter()
        .find(|d| d.folder() == last)
        .with_context(|| format!("`{url}` ends in `{last}`, not a dataset folder; {usage}"))?;
    Ok(Folder { bucket: bucket.to_string(), prefix: format!("{key}/"), dataset })
}

/// Does the file at `key` (under `folder.prefix`) belong to the range and the selection?
fn wanted(folder: &Folder, key: &str, only: &Only, (from, to): (i64, i64)) -> bool {
    let Some(rest) = key.strip_prefix(&folder.prefix) else { return false };
    let parts: Vec<&str> = rest.split('/').collect();
    let [day, venue, instrument, file] = parts.as_slice() else { return false };
    let Some(day_start) = day.strip_prefix("dt=").and_then(day_start_ms) else { return false };
    let Some(name) = parse_name(file) else { return false };
    let hour = day_start + name.hour_of_day * HOUR_MS;
    let matches = |want: &Option<String>, segment: &str, field: &str| {
        want.as_ref().is_none_or(|w| segment.strip_prefix(field) == Some(path_safe(w).as_str()))
    };
    hour < to
        && hour + HOUR_MS > from
        && matches(&only.venue, venue, "venue=")
        && matches(&only.instrument, instrument, "instrument=")
}

/// The epoch milliseconds of a `YYYY-MM-DD` day's start.
fn day_start_ms(day: &str) -> Option<i64> {
    let mut it = day.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (it.next()??, it.next()??, it.next()??);
    Some(tickwatch_model::time::days_from_civil(y, m, d) * DAY_MS)
}

pub async fn run(settings: &Settings, url: &str, only: &Only, range: (i64, i64), to_topic: &str) -> anyhow::Result<()> {
    let folder = parse_url(url)?;
    let mut bucket = Bucket::new(&settings.s3)?;
    bucket.name = folder.bucket.clone();
    let mut files = Vec::new();
    for day in range.0.div_euclid(DAY_MS)..=(range.1 - 1).div_euclid(DAY_MS) {
        let (y, m, d) = civil_from_days(day);
        let day_folder = format!("{}dt={y:04}-{m:02}-{d:02}/", folder.prefix);
        let keys = bucket.keys(&day_folder).await.with_context(|| format!("listing {url}"))?;
        files.extend(keys.into_iter().filter(|k| wanted(&folder, k, only, range)));
    }
    match folder.dataset {
        Dataset::Trades => replay::<Trade>(settings, &bucket, &files, range, to_topic).await?,
        Dataset::Klines => replay::<Kline>(settings, &bucket, &files, range, to_topic).await?,
        Dataset::Reference => replay::<ReferencePrice>(settings, &bucket, &files, range, to_topic).await?,
        Dataset::DexSwaps => replay::<DexSwap>(settings, &bucket, &files, range, to_topic).await?,
    };
    Ok(())
}

async fn replay<T: FromCold>(
    settings: &Settings,
    bucket: &Bucket,
    files: &[String],
    (from, to): (i64, i64),
    to_topic: &str,
) -> anyhow::Result<()> {
    let mut rows: Vec<StoredRow<T>> = Vec::new();
    for key in files {
        let body = bucket.get(key).await?;
        let read = read_file::<T>(body).with_context(|| format!("s3://{}/{key}", bucket.name))?;
        rows.extend(read.into_iter().filter(|(_, _, r)| (from * 1000..to * 1000).contains(&r.event_time_us())));
    }
    rows.sort_by(|a, b| (&a.0, a.1.partition, a.1.offset).cmp(&(&b.0, b.1.partition, b.1.offset)));
    rows.dedup_by(|a, b| (&a.0, a.1) == (&b.0, b.1));
    let schema_id = RegistryClient::new(&settings.registry.url)
        .register(&format!("{to_topic}-value"), T::SCHEMA_JSON)
        .await
        .with_context(|| format!("registering {to_topic}-value at {}", settings.registry.url))?;
    let partitions = rows.iter().map(|r| r.1.partition + 1).max().unwrap_or(1);
    let consumer = super::metadata_consumer(settings)?;
    let out_partitions = super::target_partitions(settings, &consumer, to_topic, partitions).await?;
    let producer = ReliableProducer::new(&settings.broker)?;
    for chunk in rows.chunks(BATCH) {
        let records = chunk
            .iter()
            .map(|(topic, source, r)| {
                Ok(OwnedRecord {
                    topic: to_topic.to_string(),
                    partition: Some(source.partition % out_partitions),
                    key: Some(r.instrument().as_bytes().to_vec()),
                    payload: Some(wire::frame(schema_id, &r.to_avro()?)),
                    headers: vec![replay_header(topic, source.partition, source.offset)],
                    timestamp_ms: Some(r.event_time_us().div_euclid(1000)),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        producer.send_in_order(&records).await?;
    }
    println!(
        "replayed {} records of s3://{}/ [{from}, {to}) from {} files to {to_topic}",
        rows.len(),
        bucket.name,
        files.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_a_dataset_folder_and_the_files_are_picked_by_hour_venue_and_instrument() {
        let f = parse_url("s3://cold/pq-1/trades/").unwrap();
        assert_eq!(f, Folder { bucket: "cold".into(), prefix: "pq-1/trades/".into(), dataset: Dataset::Trades });
        assert_eq!(parse_url("s3://cold/klines").unwrap().prefix, "klines/");
        for bad in ["cold/trades/", "s3://cold", "s3://cold/pq-1/"] {
            assert!(parse_url(bad).unwrap_err().to_string().contains("dataset folder"), "{bad}");
        }
        // 2026-11-25 09:00 UTC is 1 795 597 200 000 ms.
        let key = "pq-1/trades/dt=2026-11-25/venue=okx/instrument=BTC%2FUSDT/0900-t.trades-p0-000000000000-000000000009.parquet";
        let all = Only { venue: None, instrument: None };
        let nine = 1_795_597_200_000;
        assert!(wanted(&f, key, &all, (nine, nine + 1)));
        assert!(wanted(&f, key, &all, (nine - 5, nine + HOUR_MS)));
        assert!(!wanted(&f, key, &all, (nine + HOUR_MS, nine + 2 * HOUR_MS)), "the next hour");
        assert!(!wanted(&f, key, &all, (nine - HOUR_MS, nine)), "the hour before");
        let okx = Only { venue: Some("okx".into()), instrument: Some("BTC/USDT".into()) };
        assert!(wanted(&f, key, &okx, (nine, nine + 1)));
        let binance = Only { venue: Some("binance".into()), instrument: None };
        assert!(!wanted(&f, key, &binance, (nine, nine + 1)));
        assert!(!wanted(&f, "pq-1/trades/dt=2026-11-25/notes.txt", &all, (0, i64::MAX)));
    }
}
