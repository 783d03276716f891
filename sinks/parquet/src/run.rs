//! The worker: a consumer group on the configured topics; records gathered into hourly files
//! per dataset, venue, instrument and source partition; a file is closed when its partition's
//! event time is `close_after_ms` past the hour, when it is full, or when its partition is
//! quiet; closed files go to S3 (retried while S3 is down, consumption paused meanwhile).
//!
//! Offsets: per partition, the commit is the first offset of its oldest open file (or past
//! the last record read when none is open), so a restart reads every open file's records
//! again. A record already in a stored file (its name gives topic, partition and offset
//! range) is skipped, so a restart, a rebalance or a rerun from older offsets never stores a
//! record twice. A record its dataset withholds (a DEX swap not yet confirmed, or retracted)
//! is counted and passed over; its offset is committed like a stored record's.

use crate::columns::Source;
use crate::config::{Dataset, ParquetSinkConfig, UnknownTopic};
use crate::files::{files_for, Closed, DatasetFiles, Decoded};
use crate::layout::{parse_name, FileKey, StoredName};
use crate::store::{Bucket, StoreError};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tickwatch_runtime::broker::{self, BrokerError};
use tickwatch_runtime::outage::Outage;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::settings::{BrokerSettings, S3Settings};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Topic(#[from] UnknownTopic),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
    #[error("broker: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// Where the worker reads and writes.
#[derive(Debug, Clone)]
pub struct ParquetWorkerConfig {
    /// Prepended to every topic read (side-by-side runs, tests).
    pub prefix: String,
    pub group: String,
    /// Static group membership (`group.instance.id`).
    pub instance_id: Option<String>,
    pub sink: ParquetSinkConfig,
}

type TopicPartition = (String, i32);

/// What the worker knows between polls.
struct State {
    datasets: Vec<Box<dyn DatasetFiles>>,
    dataset_of: HashMap<String, usize>,
    /// Stored file names per folder, listed once per folder (and after a rebalance).
    stored: HashMap<String, Vec<StoredName>>,
    /// Per source partition: newest event time, next offset to read, when it last had a record.
    watermark: HashMap<TopicPartition, i64>,
    next: HashMap<TopicPartition, i64>,
    last_record: HashMap<TopicPartition, Instant>,
    skipped: u64,
    refused: u64,
    /// Records withheld by their dataset, and repeats of a row their file holds.
    withheld: u64,
}

/// Run until `stop` is set. Blocking: call it from a thread of its own.
pub fn run(
    broker_settings: &BrokerSettings,
    registry: &RegistryClient,
    s3: &S3Settings,
    cfg: &ParquetWorkerConfig,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<(), SinkError> {
    let routes = cfg.sink.routes()?;
    let bucket = Bucket::new(s3)?;
    let mut datasets: Vec<Dataset> = Vec::new();
    let mut dataset_of = HashMap::new();
    for (topic, dataset) in &routes {
        let slot = datasets.iter().position(|d| d == dataset).unwrap_or_else(|| {
            datasets.push(*dataset);
            datasets.len() - 1
        });
        dataset_of.insert(format!("{}{topic}", cfg.prefix), slot);
    }
    let mut state = State {
        datasets: datasets.iter().map(|d| files_for(*d)).collect(),
        dataset_of,
        stored: HashMap::new(),
        watermark: HashMap::new(),
        next: HashMap::new(),
        last_record: HashMap::new(),
        skipped: 0,
        refused: 0,
        withheld: 0,
    };
    let mut consumer_config = broker::consumer_config(broker_settings, &cfg.group);
    consumer_config.set("queued.max.messages.kbytes", "16384");
    if let Some(id) = &cfg.instance_id {
        consumer_config.set("group.instance.id", id);
    }
    let consumer: BaseConsumer = consumer_config.create()?;
    let topics: Vec<&str> = state.dataset_of.keys().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    tracing::info!(?topics, group = %cfg.group, bucket = %bucket.name, "Parquet writer running");
    let sink = &cfg.sink;
    let mut caught_up;
    let mut last_check = Instant::now();
    let mut assignment: HashSet<TopicPartition> = HashSet::new();
    // Something was read or stored since the last commit.
    let mut dirty = false;
    while !stop.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(50)) {
            None => caught_up = true,
            Some(msg) => {
                caught_up = false;
                let msg = msg?;
                broker::observe(&consumer, &msg);
                let tp = (msg.topic().to_string(), msg.partition());
                let source = Source { partition: msg.partition(), offset: msg.offset() };
                let files = &mut state.datasets[state.dataset_of[msg.topic()]];
                match files.decode(msg.topic(), source, msg.payload().unwrap_or_default(), registry, &runtime) {
                    Err(why) => {
                        state.refused += 1;
                        if state.refused == 1 {
                            tracing::warn!(topic = msg.topic(), partition = source.partition, offset = source.offset, reason = %why,
                                "record refused (it stays in the broker; the ClickHouse writer keeps it in quarantine); further ones are counted");
                        }
                    }
                    Ok(Decoded::Withheld(why)) => {
                        state.withheld += 1;
                        let dataset = state.datasets[state.dataset_of[msg.topic()]].dataset();
                        tickwatch_runtime::metrics::stage_metrics().withheld(dataset.folder(), why);
                        // No watermark move: a confirmed swap trails the chain's head by its
                        // confirmations, so pending ones would close its hour's file early.
                    }
                    Ok(Decoded::Held(key, event_time_us)) => {
                        let Some(stored) = stored_covers(
                            &mut state.stored,
                            &bucket,
                            &key,
                            source.offset,
                            &consumer,
                            sink,
                            &runtime,
                            stop,
                        )?
                        else {
                            return Ok(());
                        };
                        let files = &mut state.datasets[state.dataset_of[msg.topic()]];
                        if stored {
                            state.skipped += 1;
                        } else {
                            let dataset = key.dataset;
                            if !files.keep(key) {
                                state.withheld += 1;
                                tickwatch_runtime::metrics::stage_metrics().withheld(dataset.folder(), "duplicate");
                            }
                            let w = state.watermark.entry(tp.clone()).or_insert(i64::MIN);
                            *w = (*w).max(event_time_us);
                        }
                    }
                }
                state.next.insert(tp.clone(), source.offset + 1);
                state.last_record.insert(tp, Instant::now());
                dirty = true;
            }
        }
        if last_check.elapsed() >= Duration::from_millis(200) {
            last_check = Instant::now();
            // A rebalance: forget what this worker no longer owns, and list folders afresh
            // (another member may have stored files meanwhile).
            let now: HashSet<TopicPartition> =
                consumer.assignment()?.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect();
            if now != assignment {
                for files in &mut state.datasets {
                    files.drop_where(&|k| !now.contains(&(k.topic.clone(), k.partition)));
                }
                state.next.retain(|tp, _| now.contains(tp));
                state.stored.clear();
                assignment = now;
            }
            let due = due_files(&state, sink, caught_up);
            if !store_files(&mut state, &due, &bucket, &consumer, sink, &runtime, stop)? {
                return Ok(());
            }
            // A stored file moves its partition's commit on, even with nothing new read.
            dirty |= !due.is_empty();
            if dirty {
                commit(&consumer, &state);
                dirty = false;
            }
        }
    }
    // Stopping: every open file is stored and committed before the process ends.
    let all: Vec<(usize, FileKey)> = state
        .datasets
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.open().into_iter().map(move |(k, _, _)| (i, k.clone())))
        .collect();
    if store_files(&mut state, &all, &bucket, &consumer, sink, &runtime, stop)? {
        commit(&consumer, &state);
    }
    tracing::info!(
        skipped = state.skipped,
        refused = state.refused,
        withheld = state.withheld,
        "Parquet writer stopped"
    );
    Ok(())
}

/// Is the record at `offset` already in a stored file of its key? `None`: stopped while S3
/// was unreachable.
#[allow(clippy::too_many_arguments)]
fn stored_covers(
    stored: &mut HashMap<String, Vec<StoredName>>,
    bucket: &Bucket,
    key: &FileKey,
    offset: i64,
    consumer: &BaseConsumer,
    sink: &ParquetSinkConfig,
    runtime: &tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<Option<bool>, SinkError> {
    let folder = key.folder(&sink.key_prefix);
    if !stored.contains_key(&folder) {
        let mut outage = Outage::new(Duration::from_millis(sink.retry_max_ms));
        let names = loop {
            match runtime.block_on(bucket.list(&folder)) {
                Ok(names) => break names,
                Err(e) => {
                    if !outage.failed(consumer, "S3 listing", &e, stop)? {
                        return Ok(None);
                    }
                }
            }
        };
        outage.end(consumer, "S3 listing")?;
        stored.insert(folder.clone(), names.iter().filter_map(|n| parse_name(n)).collect());
    }
    Ok(Some(stored[&folder].iter().any(|n| key.owns(n) && (n.first..=n.last).contains(&offset))))
}

/// The files to close now, by dataset slot.
fn due_files(state: &State, sink: &ParquetSinkConfig, caught_up: bool) -> Vec<(usize, FileKey)> {
    let mut due = Vec::new();
    let mut open_rows = 0;
    let mut largest: Option<(usize, &FileKey, usize)> = None;
    for (slot, files) in state.datasets.iter().enumerate() {
        for (key, rows, _) in files.open() {
            let tp = (key.topic.clone(), key.partition);
            let watermark = state.watermark.get(&tp).copied().unwrap_or(i64::MIN);
            let quiet =
                state.last_record.get(&tp).is_none_or(|t| t.elapsed() >= Duration::from_millis(sink.idle_close_ms));
            if rows >= sink.max_file_rows
                || watermark >= key.hour_end_us() + sink.close_after_ms * 1_000
                || (caught_up && quiet)
            {
                due.push((slot, key.clone()));
            } else {
                open_rows += rows;
                if largest.is_none_or(|l| rows > l.2) {
                    largest = Some((slot, key, rows));
                }
            }
        }
    }
    // Too much held: the largest file goes early (memory stays bounded).
    if open_rows > sink.max_open_rows {
        if let Some((slot, key, _)) = largest {
            due.push((slot, key.clone()));
        }
    }
    due
}

/// Close, encode and store each file (retrying while S3 is down). `false`: stopped during
/// an outage, with nothing committed.
fn store_files(
    state: &mut State,
    due: &[(usize, FileKey)],
    bucket: &Bucket,
    consumer: &BaseConsumer,
    sink: &ParquetSinkConfig,
    runtime: &tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<bool, SinkError> {
    for (slot, key) in due {
        let closed: Closed = match state.datasets[*slot].close(key, sink.zstd_level) {
            None => continue,
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                // Cannot happen with valid records; the records are read again after a restart.
                tracing::error!(error = %e, ?key, "a file could not be encoded");
                continue;
            }
        };
        let object = closed.key.object(&sink.key_prefix, closed.first, closed.last);
        let mut outage = Outage::new(Duration::from_millis(sink.retry_max_ms));
        loop {
            match runtime.block_on(bucket.put(&object, closed.parquet.clone(), sink.multipart_part_bytes)) {
                Ok(()) => break,
                Err(e) => {
                    if !outage.failed(consumer, "S3 upload", &e, stop)? {
                        return Ok(false);
                    }
                }
            }
        }
        outage.end(consumer, "S3 upload")?;
        tracing::debug!(object, rows = closed.rows, bytes = closed.parquet.len(), "stored");
        tickwatch_runtime::metrics::stage_metrics().file_stored(closed.key.dataset.folder());
        let folder = closed.key.folder(&sink.key_prefix);
        if let (Some(names), Some(name)) =
            (state.stored.get_mut(&folder), object.rsplit('/').next().and_then(parse_name))
        {
            names.push(name);
        }
    }
    Ok(true)
}

/// Per partition: the first offset of its oldest open file, else the next offset to read.
fn commit(consumer: &BaseConsumer, state: &State) {
    let mut positions: HashMap<&TopicPartition, i64> = state.next.iter().map(|(tp, next)| (tp, *next)).collect();
    for files in &state.datasets {
        for (key, _, first) in files.open() {
            if let Some(p) = positions.iter_mut().find(|(tp, _)| tp.0 == key.topic && tp.1 == key.partition) {
                *p.1 = (*p.1).min(first);
            }
        }
    }
    broker::commit_positions(consumer, positions.into_iter().map(|(tp, o)| (tp.0.as_str(), tp.1, o)));
}
