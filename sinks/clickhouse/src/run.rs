//! The worker: a consumer group on the configured topics, records batched per table, one
//! `INSERT` per table when the batch is full or old enough, and the consumed offsets
//! committed only after ClickHouse acknowledged every insert. A batch is inserted while the
//! next one fills: reading stopped for each insert before, so a batch waited for the insert
//! before it as well as for its own age (at 10 000 trades a second, an insert every 180 ms
//! with `batch_ms` 100). While ClickHouse is down or refuses, the batch is kept and sent
//! again with a growing wait, and consumption is paused: memory stays bounded by two batches
//! of `batch_rows` (the one in flight and the one filling) and the broker holds the rest.
//! A crash between an insert and its commit sends those rows again; the tables
//! (ReplacingMergeTree on each record's natural key) keep one of them.

use crate::batch::{batch_for, Pending, TableBatch};
use crate::config::{ClickHouseSinkConfig, TableKind, UnknownTopic};
use clickhouse::Client;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tickwatch_model::QuarantineRecord;
use tickwatch_runtime::broker::{self, BrokerError};
use tickwatch_runtime::decoder;
use tickwatch_runtime::outage::Outage;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::settings::{BrokerSettings, ClickHouseSettings};
use tickwatch_runtime::trace::{self, Span, SpanKind};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Topic(#[from] UnknownTopic),
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
    #[error("broker: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// Where the worker reads and writes.
#[derive(Debug, Clone)]
pub struct SinkWorkerConfig {
    /// Prepended to every topic (side-by-side runs, tests); the tables keep their names.
    pub prefix: String,
    pub group: String,
    /// Static group membership (`group.instance.id`): a restarted member with the same id
    /// gets its partitions back at once instead of after the session timeout.
    pub instance_id: Option<String>,
    pub sink: ClickHouseSinkConfig,
}

/// A ClickHouse client for the configured server and database.
pub fn client(settings: &ClickHouseSettings) -> Client {
    Client::default()
        .with_url(&settings.url)
        .with_database(&settings.database)
        .with_user(&settings.user)
        .with_password(&settings.password)
}

/// Everything consumed since the last commit.
struct Waiting {
    batches: Vec<Box<dyn TableBatch>>,
    /// Records that are not what their topic carries: kept in the quarantine table.
    refused: Pending<QuarantineRecord>,
    /// Per topic and partition, the next offset to commit once the batches are in.
    positions: HashMap<(String, i32), i64>,
    rows: usize,
    since: Option<Instant>,
    /// Spans of the traced records in the batch, ended when ClickHouse has their rows.
    traced: Vec<Span>,
}

/// After an insert of at least this many rows, freed memory is handed back to the system
/// (the rows of a large batch are freed, but the allocator would keep their pages).
const RELEASE_AFTER_ROWS: usize = 10_000;

/// Most traced records timed per batch (a sample is all a trace needs).
const TRACED_PER_BATCH: usize = 1024;

/// A batch on its way into ClickHouse: the task gives it back with the outcome of its
/// first try (the tables it got in are cleared already).
type InFlight = tokio::task::JoinHandle<(Waiting, Result<(), String>)>;

/// Insert every table of `waiting` once, in a task of its own.
fn insert_in_background(runtime: &tokio::runtime::Handle, client: &Client, mut waiting: Waiting) -> InFlight {
    let client = client.clone();
    runtime.spawn(async move {
        let outcome = insert_each(&client, &mut waiting).await;
        (waiting, outcome)
    })
}

/// One try per non-empty table, in order; each one ClickHouse took is counted and cleared at
/// once, so that after a failure only what is left is sent again.
async fn insert_each(client: &Client, waiting: &mut Waiting) -> Result<(), String> {
    let refused: &mut dyn TableBatch = &mut waiting.refused;
    for batch in waiting.batches.iter_mut().map(|b| b.as_mut()).chain(std::iter::once(refused)) {
        if batch.is_empty() {
            continue;
        }
        match batch.insert(client).await {
            Ok(()) => {
                tracing::debug!(table = batch.table(), rows = batch.len(), "inserted");
                batch.acknowledged(tickwatch_runtime::produce::now_us());
                batch.clear()
            }
            Err(e) => return Err(format!("{}: {e}", batch.table())),
        }
    }
    Ok(())
}

impl Waiting {
    fn due(&self, cfg: &ClickHouseSinkConfig) -> bool {
        self.rows >= cfg.batch_rows || self.since.is_some_and(|s| s.elapsed() >= Duration::from_millis(cfg.batch_ms))
    }
}

/// Run until `stop` is set. Blocking: call it from a thread of its own.
pub fn run(
    broker_settings: &BrokerSettings,
    registry: &RegistryClient,
    clickhouse: &ClickHouseSettings,
    cfg: &SinkWorkerConfig,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<(), SinkError> {
    let routes = cfg.sink.routes()?;
    let client = client(clickhouse);
    let mut kinds: Vec<TableKind> = Vec::new();
    let mut table_of: HashMap<String, usize> = HashMap::new();
    for (topic, kind) in &routes {
        let slot = kinds.iter().position(|k| k == kind).unwrap_or_else(|| {
            kinds.push(*kind);
            kinds.len() - 1
        });
        table_of.insert(format!("{}{topic}", cfg.prefix), slot);
    }
    let empty = || Waiting {
        batches: kinds.iter().map(|k| batch_for(*k)).collect(),
        refused: Pending::default(),
        positions: HashMap::new(),
        rows: 0,
        since: None,
        traced: Vec::new(),
    };
    // Two sets of batches: one fills while the other is inserted.
    let (mut waiting, mut spare) = (empty(), Some(empty()));
    let mut in_flight: Option<InFlight> = None;
    // A small prefetch: while ClickHouse is down the broker, not this process, holds the backlog.
    let mut consumer_config = broker::consumer_config(broker_settings, &cfg.group);
    consumer_config.set("queued.max.messages.kbytes", "16384");
    if let Some(id) = &cfg.instance_id {
        consumer_config.set("group.instance.id", id);
    }
    let consumer: BaseConsumer = consumer_config.create()?;
    let topics: Vec<&str> = table_of.keys().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    tracing::info!(?topics, group = %cfg.group, database = %clickhouse.database, "ClickHouse writer running");
    while !stop.load(Ordering::Relaxed) {
        if let Some(msg) = consumer.poll(Duration::from_millis(50)) {
            let msg = msg?;
            broker::observe(&consumer, &msg);
            let (topic, partition, offset) = (msg.topic(), msg.partition(), msg.offset());
            let payload = msg.payload().unwrap_or_default();
            let batch = &mut waiting.batches[table_of[topic]];
            if let Err(why) = batch.push(payload, registry, &runtime) {
                tracing::warn!(topic, partition, offset, table = batch.table(), reason = %why, "record refused; kept in the quarantine table");
                waiting.refused.keep(decoder::quarantined(&msg, "undecodable", "clickhouse-sink", why));
            }
            if waiting.traced.len() < TRACED_PER_BATCH {
                if let Some(parent) = trace::from_message(&msg) {
                    let mut span = Span::child(format!("insert {}", batch.table()), SpanKind::Consumer, &parent);
                    span.attr("db.system.name", "clickhouse")
                        .attr("db.collection.name", batch.table())
                        .attr("messaging.destination.name", topic)
                        .attr("messaging.kafka.offset", offset);
                    waiting.traced.push(span);
                }
            }
            waiting.positions.insert((topic.to_string(), partition), offset + 1);
            waiting.rows += 1;
            waiting.since.get_or_insert_with(Instant::now);
        }
        // The insert before is finished with as soon as it is done (its offsets committed),
        // and at the latest when this batch is due.
        let due = waiting.due(&cfg.sink);
        if in_flight.as_ref().is_some_and(|h| due || h.is_finished()) {
            let handle = in_flight.take().expect("checked");
            match land(handle, &consumer, &client, &cfg.sink, &runtime, stop)? {
                Some(done) => spare = Some(done),
                None => return Ok(()),
            }
        }
        if due {
            let next = spare.take().expect("the spare batches are back once the insert before landed");
            in_flight = Some(insert_in_background(&runtime, &client, std::mem::replace(&mut waiting, next)));
        }
    }
    // Stopping: what was read goes in (and is committed) before the process ends.
    if let Some(handle) = in_flight.take() {
        if land(handle, &consumer, &client, &cfg.sink, &runtime, stop)?.is_none() {
            return Ok(());
        }
    }
    if waiting.rows > 0 {
        flush(&consumer, &client, &mut waiting, &cfg.sink, &runtime, stop)?;
    }
    Ok(())
}

/// Wait for a batch in flight; if its first try failed, go on trying (consumption paused, as
/// [`flush`] does) until ClickHouse takes it; then commit its offsets. Gives the emptied
/// batches back, or `None` when stopped before ClickHouse came back (nothing committed).
fn land(
    handle: InFlight,
    consumer: &BaseConsumer,
    client: &Client,
    cfg: &ClickHouseSinkConfig,
    runtime: &tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<Option<Waiting>, SinkError> {
    let (mut waiting, outcome) = runtime.block_on(handle).expect("the insert task does not panic");
    if let Err(error) = outcome {
        tracing::debug!(%error, "insert refused; trying again with reading paused");
    }
    // The tables already in are empty: only the rest is sent again.
    Ok(flush(consumer, client, &mut waiting, cfg, runtime, stop)?.then_some(waiting))
}

/// Insert every waiting batch (retrying until ClickHouse takes it), then commit. `false`
/// when stopped before ClickHouse came back: nothing was committed, the next run replays.
fn flush(
    consumer: &BaseConsumer,
    client: &Client,
    waiting: &mut Waiting,
    cfg: &ClickHouseSinkConfig,
    runtime: &tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<bool, SinkError> {
    let mut outage = Outage::new(Duration::from_millis(cfg.retry_max_ms));
    while let Err(error) = runtime.block_on(insert_each(client, waiting)) {
        if !outage.failed(consumer, "ClickHouse insert", &error, stop)? {
            return Ok(false);
        }
    }
    broker::commit_positions(consumer, waiting.positions.iter().map(|((t, p), o)| (t.as_str(), *p, *o)));
    outage.end(consumer, "ClickHouse insert")?;
    for span in waiting.traced.drain(..) {
        span.end();
    }
    waiting.positions.clear();
    if waiting.rows >= RELEASE_AFTER_ROWS {
        tickwatch_runtime::memory::release_free();
    }
    waiting.rows = 0;
    waiting.since = None;
    Ok(true)
}
