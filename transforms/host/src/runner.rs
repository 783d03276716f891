//! Feeds a transform from a Kafka-API broker like Redpanda would: consume the input topic in
//! a consumer group, run each partition's batch through the VM, produce the outputs with an
//! idempotent producer (output partition = input partition modulo the output's partition
//! count), and commit the input offsets only after every output is acknowledged. A kill at
//! any point loses nothing; the batch in flight is redone (at least once, same keys).

use crate::batch::{InBatch, OutRecord};
use crate::encoding::PayloadWriter;
pub use crate::stats::RunnerStats;
use crate::vm::{BatchResult, TransformVm};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_runtime::broker::{self, AddHeader, InOrderSend, Outgoing, ReliableProducer};
use tickwatch_runtime::settings::BrokerSettings;
use tickwatch_runtime::trace::{self, Span, SpanKind, TRACEPARENT};

/// The header carrying `topic/partition/offset` of each input record into the module. The
/// host runs any transform, so it does not link tickwatch's own; theirs read the same name
/// (`tickwatch_transform_core::route::SOURCE_HEADER`).
pub const SOURCE_HEADER: &str = "tickwatch-source";

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub input: String,
    pub outputs: Vec<String>,
    pub group: String,
    /// Most records handed to the VM at once.
    pub batch_max: usize,
    /// How long to wait for a batch to fill.
    pub linger: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("the transform trapped at {topic}/{partition}@{offset}: {message}; offsets from {topic}/{partition}@{committed} on are not committed. Fix the transform (or its input) and restart")]
    Trapped { topic: String, partition: i32, offset: String, committed: i64, message: String },
    #[error("broker: {0}")]
    Broker(#[from] broker::BrokerError),
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("output topic {0} does not exist (create the declared topics first: `tickwatch topics create`)")]
    MissingOutput(String),
    #[error("at most 8 output topics, got {0}")]
    TooManyOutputs(usize),
}

fn output_partitions(consumer: &BaseConsumer, topics: &[String]) -> Result<Vec<i32>, RunnerError> {
    topics
        .iter()
        .map(|t| {
            let md = consumer.fetch_metadata(Some(t), Duration::from_secs(10))?;
            let n = md.topics().first().map_or(0, |m| m.partitions().len() as i32);
            if n == 0 {
                return Err(RunnerError::MissingOutput(t.clone()));
            }
            Ok(n)
        })
        .collect()
}

/// A traced input record gets a span of the host's, from its poll to its outputs'
/// acknowledgement; its `traceparent` header, which the transform copies to the outputs, is
/// rewritten to that span so that the next stages hang under it. Returns the span and the
/// header's new value.
fn trace_record<M: Message>(msg: &M, input: &str) -> Option<(Span, Vec<u8>)> {
    let parent = trace::from_message(msg)?;
    let mut span = Span::child(format!("process {input}"), SpanKind::Consumer, &parent);
    span.attr("messaging.system", "kafka")
        .attr("messaging.destination.name", msg.topic())
        .attr("messaging.destination.partition.id", msg.partition().to_string())
        .attr("messaging.kafka.offset", msg.offset());
    let value = span.context().header_value().into_bytes();
    Some((span, value))
}

/// The message as the module reads it, written at the end of the batch's buffer: its key, value and headers
/// (the first `traceparent`, the one the trace was read from, replaced when `traceparent`
/// is given), then the source header.
fn to_abi<M: Message>(out: &mut Vec<u8>, msg: &M, source: &str, mut traceparent: Option<&[u8]>) {
    let headers = msg.headers();
    let count = headers.as_ref().map_or(0, |h| h.count());
    let mut w = PayloadWriter::append(out, msg.key(), msg.payload(), count + 1);
    for h in headers.iter().flat_map(|h| h.iter()) {
        let replaced = if h.key == TRACEPARENT { traceparent.take() } else { None };
        w.header(h.key.as_bytes(), replaced.or(h.value));
    }
    w.header(SOURCE_HEADER.as_bytes(), Some(source.as_bytes()));
    w.finish();
}

/// One partition's batch, gathered from the consumer, with the spans of its traced records.
#[derive(Default)]
struct Gathered {
    records: InBatch,
    spans: Vec<Span>,
}

/// Poll up to `batch_max` records, or until `linger` has passed once one came; waits
/// `first_wait` for the first.
fn gather(
    consumer: &BaseConsumer,
    cfg: &RunnerConfig,
    first_wait: Duration,
) -> Result<BTreeMap<i32, Gathered>, RunnerError> {
    let mut by_partition: BTreeMap<i32, Gathered> = BTreeMap::new();
    let deadline = Instant::now() + cfg.linger;
    let mut n = 0;
    let mut source = String::new();
    while n < cfg.batch_max {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(msg) = consumer.poll(if n == 0 { first_wait } else { left }) else {
            if n > 0 || Instant::now() >= deadline {
                break;
            }
            continue;
        };
        let msg = msg?;
        source.clear();
        let _ = write!(source, "{}/{}/{}", msg.topic(), msg.partition(), msg.offset());
        let batch = by_partition.entry(msg.partition()).or_default();
        let traced = trace_record(&msg, &cfg.input);
        let timestamp_ms = msg.timestamp().to_millis().unwrap_or(-1);
        batch.records.push_with(timestamp_ms, msg.offset(), |out| {
            to_abi(out, &msg, &source, traced.as_ref().map(|(_, v)| v.as_slice()))
        });
        if let Some((span, _)) = traced {
            batch.spans.push(span);
        }
        n += 1;
        if Instant::now() >= deadline {
            break;
        }
    }
    Ok(by_partition)
}

/// An output record as the producer sends it: the module's bytes, its parts borrowed.
struct Produced<'a> {
    topic: &'a str,
    partition: i32,
    record: OutRecord,
}

impl Outgoing for Produced<'_> {
    fn topic(&self) -> &str {
        self.topic
    }
    fn partition(&self) -> Option<i32> {
        Some(self.partition)
    }
    fn key(&self) -> Option<&[u8]> {
        self.record.view().key
    }
    fn payload(&self) -> Option<&[u8]> {
        self.record.view().value
    }
    fn header_count(&self) -> usize {
        self.record.view().header_count()
    }
    fn headers(&self, add: &mut AddHeader<'_>) {
        for (k, v) in self.record.view().headers() {
            add(k, v);
        }
    }
    fn timestamp_ms(&self) -> Option<i64> {
        None
    }
}

/// One partition's outputs, handed to the producer; once every one is acknowledged, its
/// input is committed up to `last`.
struct InFlight<'a> {
    partition: i32,
    last: i64,
    records: Vec<Produced<'a>>,
    sent: InOrderSend,
    timestamps: Vec<i64>,
    spans: Vec<Span>,
}

/// What every batch needs to be sent and committed.
struct SendAndCommit<'a> {
    consumer: &'a BaseConsumer,
    producer: &'a ReliableProducer,
    runtime: &'a tokio::runtime::Handle,
    input: &'a str,
    stats: &'a RunnerStats,
}

impl InFlight<'_> {
    /// Wait for the acknowledgements, then commit the input.
    fn finish(self, p: &SendAndCommit<'_>) -> Result<(), RunnerError> {
        p.runtime.block_on(p.producer.acknowledged_in_order(self.sent, &self.records))?;
        let acked_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        for ts in self.timestamps.into_iter().filter(|ts| *ts >= 0) {
            p.stats.record_delay_seconds.observe(Duration::from_millis(acked_ms.saturating_sub(ts).max(0) as u64));
        }
        for span in self.spans {
            span.end();
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(p.input, self.partition, Offset::Offset(self.last + 1))?;
        if let Err(e) = p.consumer.commit(&tpl, CommitMode::Sync) {
            // Another member took the partition over: it redoes this batch (at least once).
            let moved = matches!(
                e.rdkafka_error_code(),
                Some(RDKafkaErrorCode::RebalanceInProgress)
                    | Some(RDKafkaErrorCode::IllegalGeneration)
                    | Some(RDKafkaErrorCode::UnknownMemberId)
            );
            if !moved {
                return Err(e.into());
            }
            tracing::warn!(partition = self.partition, error = %e, "commit refused after a rebalance; the new owner repeats the batch");
        }
        Ok(())
    }
}

/// Run until `stop` is set. Blocking: call it from a thread of its own.
///
/// Two batches overlap: while one batch's outputs travel to the broker, the next is polled
/// and run through the VM, and the host thread waits for the first's acknowledgement and
/// commits it while the module works. The second's outputs are enqueued only once the one
/// before is acknowledged, so that a resend can never land behind them. After an error the
/// VM may still hold a batch: drop it (what it held is not committed, and is redone).
pub fn run(
    settings: &BrokerSettings,
    cfg: &RunnerConfig,
    vm: &mut TransformVm,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
    stats: &RunnerStats,
) -> Result<(), RunnerError> {
    if cfg.outputs.len() > 8 {
        return Err(RunnerError::TooManyOutputs(cfg.outputs.len()));
    }
    let consumer: BaseConsumer = broker::consumer_config(settings, &cfg.group).create()?;
    let partitions_of = output_partitions(&consumer, &cfg.outputs)?;
    consumer.subscribe(&[&cfg.input])?;
    let producer = ReliableProducer::new(settings)?;
    let outlet =
        SendAndCommit { consumer: &consumer, producer: &producer, runtime: &runtime, input: &cfg.input, stats };
    tracing::info!(input = %cfg.input, outputs = ?cfg.outputs, group = %cfg.group, "transform host running");
    let mut in_flight: Option<InFlight> = None;
    while !stop.load(Ordering::Relaxed) {
        // With a batch in flight, wait no longer than the linger for the next one, so that
        // a quiet input does not hold the last batch's commit back.
        let first_wait = if in_flight.is_some() { cfg.linger } else { Duration::from_millis(200) };
        let batches = gather(&consumer, cfg, first_wait)?;
        if batches.is_empty() {
            if let Some(done) = in_flight.take() {
                done.finish(&outlet)?;
            }
            continue;
        }
        for (partition, Gathered { records, spans }) in batches {
            let (first, last) = records.offsets().unwrap_or((-1, -1));
            let timestamps: Vec<i64> = records.iter().map(|r| r.timestamp_ms).collect();
            stats.records_in.fetch_add(records.len() as u64, Ordering::Relaxed);
            vm.submit(records);
            // While the module works, the batch before is acknowledged and committed; it is
            // done with either way: on a trap, its input is committed and the error names
            // exactly what is not.
            if let Some(done) = in_flight.take() {
                done.finish(&outlet)?;
            }
            let outputs = match vm.wait() {
                BatchResult::Done(o) => o,
                BatchResult::Trapped { offset, message } => {
                    return Err(RunnerError::Trapped {
                        topic: cfg.input.clone(),
                        partition,
                        offset: offset.map_or_else(|| format!("{first}..{last} (start-up)"), |o| o.to_string()),
                        committed: first,
                        message,
                    })
                }
            };
            let in_vm = vm.last_batch_time();
            stats.process_micros.fetch_add(in_vm.as_micros() as u64, Ordering::Relaxed);
            stats.batch_seconds.observe(in_vm);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            let records: Vec<Produced> = outputs
                .into_iter()
                .map(|record| {
                    if let Some(c) = stats.records_out.get(record.output) {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                    let (topic, partition) = (&cfg.outputs[record.output], partition % partitions_of[record.output]);
                    Produced { topic, partition, record }
                })
                .collect();
            let sent = runtime.block_on(producer.enqueue_in_order(&records))?;
            in_flight = Some(InFlight { partition, last, records, sent, timestamps, spans });
        }
    }
    if let Some(done) = in_flight.take() {
        done.finish(&outlet)?;
    }
    Ok(())
}
