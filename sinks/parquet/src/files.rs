//! The open files of one dataset: records gathered per [`FileKey`] (dataset, hour, venue,
//! instrument, source topic and partition) until the file is closed and encoded as Parquet.

use crate::columns::{ColdRecord, Source};
use crate::config::Dataset;
use crate::layout::FileKey;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::{HashMap, HashSet};
use tickwatch_model::{DexSwap, Kline, ReferencePrice, Trade};
use tickwatch_runtime::decoder::RecordDecoder;
use tickwatch_runtime::registry_client::RegistryClient;

/// A closed file, ready to store.
pub struct Closed {
    pub key: FileKey,
    pub first: i64,
    pub last: i64,
    pub rows: usize,
    pub parquet: Vec<u8>,
}

/// What an open file holds so far.
pub struct OpenFile<R> {
    first: i64,
    last: i64,
    records: Vec<(Source, R)>,
    /// The row keys it holds ([`ColdRecord::row_key`]; empty for types without one).
    keys: HashSet<String>,
}

/// What a decoded record is to the dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Held back for [`DatasetFiles::keep`]: its file and event time.
    Held(FileKey, i64),
    /// Not for the cold history, and why ([`ColdRecord::withheld`]).
    Withheld(&'static str),
}

/// One dataset's open files, whatever its record type.
pub trait DatasetFiles: Send {
    /// The dataset the files are of.
    fn dataset(&self) -> Dataset;
    /// Decode a record and hold it back; its file key and event time are returned for the
    /// caller to check whether the record is already stored. `Err`: not a record of this dataset.
    fn decode(
        &mut self,
        topic: &str,
        source: Source,
        payload: &[u8],
        registry: &RegistryClient,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Decoded, String>;
    /// Add the record held back by the last `decode` to its file; `false` when the file
    /// already holds its row (the record's offset still joins the file's range).
    fn keep(&mut self, key: FileKey) -> bool;
    /// Rows of each open file, with its first offset.
    fn open(&self) -> Vec<(&FileKey, usize, i64)>;
    /// Close a file and encode it (zstd Parquet).
    fn close(&mut self, key: &FileKey, zstd_level: i32) -> Option<Result<Closed, String>>;
    /// Forget the files of partitions this worker no longer owns (their new owner rebuilds them).
    fn drop_where(&mut self, gone: &dyn Fn(&FileKey) -> bool);
}

/// The open files of a [`ColdRecord`] type.
pub struct Files<R: ColdRecord> {
    dataset: Dataset,
    decoder: RecordDecoder<R>,
    held: Option<(Source, R)>,
    open: HashMap<FileKey, OpenFile<R>>,
}

impl<R: ColdRecord> Files<R> {
    pub fn new(dataset: Dataset) -> Files<R> {
        Files { dataset, decoder: RecordDecoder::default(), held: None, open: HashMap::new() }
    }
}

/// `records` as one zstd-compressed Parquet file.
pub fn encode<R: ColdRecord>(topic: &str, records: &[(Source, R)], zstd_level: i32) -> Result<Vec<u8>, String> {
    let batch = R::batch(topic, records).map_err(|e| e.to_string())?;
    let level = ZstdLevel::try_new(zstd_level).map_err(|e| e.to_string())?;
    let props = WriterProperties::builder().set_compression(Compression::ZSTD(level)).build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, R::arrow_schema(), Some(props)).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(out)
}

impl<R: ColdRecord> DatasetFiles for Files<R> {
    fn dataset(&self) -> Dataset {
        self.dataset
    }

    fn decode(
        &mut self,
        topic: &str,
        source: Source,
        payload: &[u8],
        registry: &RegistryClient,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Decoded, String> {
        let record = self.decoder.decode(payload, registry, runtime)?;
        if let Some(why) = record.withheld() {
            return Ok(Decoded::Withheld(why));
        }
        let key = FileKey {
            dataset: self.dataset,
            hour: FileKey::hour_of(record.event_time_us()),
            venue: record.venue().to_string(),
            instrument: record.instrument().to_string(),
            topic: topic.to_string(),
            partition: source.partition,
        };
        let event_time_us = record.event_time_us();
        self.held = Some((source, record));
        Ok(Decoded::Held(key, event_time_us))
    }

    fn keep(&mut self, key: FileKey) -> bool {
        let Some((source, record)) = self.held.take() else { return false };
        let file = self.open.entry(key).or_insert_with(|| OpenFile {
            first: source.offset,
            last: source.offset,
            records: Vec::new(),
            keys: HashSet::new(),
        });
        // The offset joins the range even for a repeat, so that a restart finds it stored
        // (its row is in the file) instead of writing it to another.
        file.last = source.offset;
        if let Some(row) = record.row_key() {
            if !file.keys.insert(row) {
                return false;
            }
        }
        file.records.push((source, record));
        true
    }

    fn open(&self) -> Vec<(&FileKey, usize, i64)> {
        self.open.iter().map(|(k, f)| (k, f.records.len(), f.first)).collect()
    }

    fn close(&mut self, key: &FileKey, zstd_level: i32) -> Option<Result<Closed, String>> {
        let file = self.open.remove(key)?;
        Some(encode(&key.topic, &file.records, zstd_level).map(|parquet| Closed {
            key: key.clone(),
            first: file.first,
            last: file.last,
            rows: file.records.len(),
            parquet,
        }))
    }

    fn drop_where(&mut self, gone: &dyn Fn(&FileKey) -> bool) {
        self.open.retain(|k, _| !gone(k));
    }
}

/// The open files for a dataset.
pub fn files_for(dataset: Dataset) -> Box<dyn DatasetFiles> {
    match dataset {
        Dataset::Trades => Box::new(Files::<Trade>::new(dataset)),
        Dataset::Klines => Box::new(Files::<Kline>::new(dataset)),
        Dataset::Reference => Box::new(Files::<ReferencePrice>::new(dataset)),
        Dataset::DexSwaps => Box::new(Files::<DexSwap>::new(dataset)),
    }
}
