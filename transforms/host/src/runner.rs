//! Feeds a transform from a Kafka-API broker like Redpanda would: consume the input topic in
//! a consumer group, run each partition's batch through the VM, produce the outputs with an
//! idempotent producer (output partition = input partition modulo the output's partition
//! count), and commit the input offsets only after every output is acknowledged. A kill at
//! any point loses nothing; the batch in flight is redone (at least once, same keys).

use crate::encoding::Payload;
pub use crate::stats::RunnerStats;
use crate::vm::{BatchResult, InRecord, TransformVm};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_runtime::broker::{self, OwnedRecord, ReliableProducer};
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
/// rewritten to that span so that the next stages hang under it.
fn trace_record<M: Message>(msg: &M, headers: &mut [(Vec<u8>, Option<Vec<u8>>)], input: &str) -> Option<Span> {
    let parent = trace::from_message(msg)?;
    let mut span = Span::child(format!("process {input}"), SpanKind::Consumer, &parent);
    span.attr("messaging.system", "kafka")
        .attr("messaging.destination.name", msg.topic())
        .attr("messaging.destination.partition.id", msg.partition().to_string())
        .attr("messaging.kafka.offset", msg.offset());
    let value = span.context().header_value().into_bytes();
    if let Some(slot) = headers.iter_mut().find(|(k, _)| k == TRACEPARENT.as_bytes()) {
        slot.1 = Some(value);
    }
    Some(span)
}

/// Run until `stop` is set. Blocking: call it from a thread of its own.
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
    let producer = Arc::new(ReliableProducer::new(settings)?);
    tracing::info!(input = %cfg.input, outputs = ?cfg.outputs, group = %cfg.group, "transform host running");
    while !stop.load(Ordering::Relaxed) {
        // Gather up to batch_max records or until linger passes.
        let mut by_partition: BTreeMap<i32, Vec<InRecord>> = BTreeMap::new();
        let mut spans: BTreeMap<i32, Vec<Span>> = BTreeMap::new();
        let deadline = Instant::now() + cfg.linger;
        let mut n = 0;
        while n < cfg.batch_max {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(msg) = consumer.poll(if n == 0 { Duration::from_millis(200) } else { left }) else {
                if n > 0 || Instant::now() >= deadline {
                    break;
                }
                continue;
            };
            let msg = msg?;
            let mut headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = msg
                .headers()
                .map(|h| h.iter().map(|h| (h.key.as_bytes().to_vec(), h.value.map(<[u8]>::to_vec))).collect())
                .unwrap_or_default();
            headers.push((
                SOURCE_HEADER.as_bytes().to_vec(),
                Some(format!("{}/{}/{}", msg.topic(), msg.partition(), msg.offset()).into_bytes()),
            ));
            if let Some(span) = trace_record(&msg, &mut headers, &cfg.input) {
                spans.entry(msg.partition()).or_default().push(span);
            }
            by_partition.entry(msg.partition()).or_default().push(InRecord {
                payload: Payload {
                    key: msg.key().map(<[u8]>::to_vec),
                    value: msg.payload().map(<[u8]>::to_vec),
                    headers,
                },
                timestamp_ms: msg.timestamp().to_millis().unwrap_or(-1),
                offset: msg.offset(),
            });
            n += 1;
            if Instant::now() >= deadline {
                break;
            }
        }
        for (partition, records) in by_partition {
            let first = records.first().map_or(-1, |r| r.offset);
            let last = records.last().map_or(-1, |r| r.offset);
            let timestamps: Vec<i64> = records.iter().map(|r| r.timestamp_ms).collect();
            stats.records_in.fetch_add(records.len() as u64, Ordering::Relaxed);
            let started = Instant::now();
            let outputs = match vm.process(records) {
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
            let in_vm = started.elapsed();
            stats.process_micros.fetch_add(in_vm.as_micros() as u64, Ordering::Relaxed);
            stats.batch_seconds.observe(in_vm);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            // Enqueue everything in order, then wait for every acknowledgement: each output
            // partition gets the records in the order the module wrote them.
            let records: Vec<OwnedRecord> = outputs
                .into_iter()
                .map(|o| {
                    if let Some(c) = stats.records_out.get(o.output) {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                    OwnedRecord {
                        topic: cfg.outputs[o.output].clone(),
                        partition: Some(partition % partitions_of[o.output]),
                        key: o.payload.key,
                        payload: o.payload.value,
                        headers: o.payload.headers,
                        timestamp_ms: None,
                    }
                })
                .collect();
            runtime.block_on(producer.send_in_order(&records))?;
            let acked_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            for ts in timestamps.into_iter().filter(|ts| *ts >= 0) {
                stats.record_delay_seconds.observe(Duration::from_millis(acked_ms.saturating_sub(ts).max(0) as u64));
            }
            for span in spans.remove(&partition).unwrap_or_default() {
                span.end();
            }
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&cfg.input, partition, Offset::Offset(last + 1))?;
            if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
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
                tracing::warn!(partition, error = %e, "commit refused after a rebalance; the new owner repeats the batch");
            }
        }
    }
    Ok(())
}
