//! The worker: consume `trades` in a consumer group, build bars per assigned partition, publish
//! them to `kline.<interval>` (late trades to `trades.quarantine`, reason `late`), and commit
//! the lowest offset any kept window still needs, only after every output was acknowledged.
//! A restart (or a new owner after a rebalance) replays from there and rebuilds exactly the
//! windows that can still change; bars it emits again are the same bars with the same
//! versions, which the k-line tables keep once.

use crate::builder::{KlineBuilder, Output};
use crate::config::{IntervalError, WindowConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwatch_model::{AvroRecord, Kline, QuarantineRecord, Trade};
use tickwatch_runtime::broker::{self, BrokerError, ReliableProducer};
use tickwatch_runtime::decoder::{self, RecordDecoder};
pub(crate) use tickwatch_runtime::produce::{framed, now_us, send_all, Produced};
use tickwatch_runtime::registry_client::{RegistryClient, RegistryError};
use tickwatch_runtime::settings::BrokerSettings;
use tickwatch_runtime::trace::{self, Span, SpanKind};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Interval(#[from] IntervalError),
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
    #[error("broker: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("schema registry: {0}")]
    Registry(#[from] RegistryError),
}

/// Where the worker reads and writes.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Prepended to every topic and subject (side-by-side runs, tests).
    pub prefix: String,
    pub group: String,
    pub windows: WindowConfig,
    /// The book worker also writes each book's top levels to Redis for the API.
    pub hot_books: Option<HotBooks>,
}

/// Where the book worker writes the books the API serves.
#[derive(Debug, Clone)]
pub struct HotBooks {
    pub redis_url: String,
    /// Key prefix (`hot.redis_prefix` of config/api.yaml).
    pub prefix: String,
}

struct Ids {
    kline: HashMap<String, u32>,
    quarantine: u32,
}

/// Run until `stop` is set. Blocking: call it from a thread of its own.
pub fn run(
    settings: &BrokerSettings,
    registry: &RegistryClient,
    cfg: &WorkerConfig,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<(), WorkerError> {
    let intervals = cfg.windows.parsed_intervals()?;
    let input = format!("{}trades", cfg.prefix);
    let quarantine = format!("{}trades.quarantine", cfg.prefix);
    let ids = runtime.block_on(async {
        let mut kline = HashMap::new();
        for i in &intervals {
            let subject = format!("{}kline.{}-value", cfg.prefix, i.name);
            kline.insert(i.name.clone(), registry.register(&subject, Kline::SCHEMA_JSON).await?);
        }
        let quarantine = registry.register(&format!("{quarantine}-value"), QuarantineRecord::SCHEMA_JSON).await?;
        Ok::<_, RegistryError>(Ids { kline, quarantine })
    })?;
    let consumer: BaseConsumer = broker::consumer_config(settings, &cfg.group).create()?;
    consumer.subscribe(&[&input])?;
    let producer = Arc::new(ReliableProducer::new(settings)?);
    let mut trades = RecordDecoder::<Trade>::default();
    // Per assigned partition: its builder and the last offset read.
    let mut builders: HashMap<i32, (KlineBuilder, i64)> = HashMap::new();
    tracing::info!(input, intervals = ?cfg.windows.intervals, group = %cfg.group, "window worker running");
    while !stop.load(Ordering::Relaxed) {
        let mut produced: Vec<Produced> = Vec::new();
        let mut out = Vec::new();
        // Traced trades: a span each, from the poll to their batch's outputs being acknowledged.
        let mut traced: Vec<Span> = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut n = 0;
        // Did the last poll find nothing (the input is read to its end)?
        let mut caught_up = false;
        while n < 5_000 && Instant::now() < deadline {
            let Some(msg) = consumer.poll(Duration::from_millis(50)) else {
                caught_up = true;
                continue;
            };
            caught_up = false;
            let msg = msg?;
            broker::observe(&consumer, &msg);
            n += 1;
            let (partition, offset) = (msg.partition(), msg.offset());
            let payload = msg.payload().unwrap_or_default();
            let entry =
                builders.entry(partition).or_insert_with(|| (KlineBuilder::new(&cfg.windows).expect("checked"), -1));
            entry.1 = offset;
            let trade = match trades.decode(payload, registry, &runtime) {
                Ok(t) => t,
                Err(why) => {
                    // The transforms only write valid trades; anything else is kept, not lost.
                    let q = decoder::quarantined(&msg, "undecodable", "windows", why);
                    produced.push((
                        quarantine.clone(),
                        msg.key().unwrap_or_default().to_vec(),
                        framed(ids.quarantine, &q),
                    ));
                    continue;
                }
            };
            if let Some(parent) = trace::from_message(&msg) {
                let mut span = Span::child(format!("window {}", msg.topic()), SpanKind::Consumer, &parent);
                span.attr("messaging.kafka.offset", offset).attr("tickwatch.instrument", trade.instrument.as_str());
                traced.push(span);
            }
            entry.0.on_trade(&trade, offset, now_us(), &mut out);
            for o in out.drain(..) {
                if let Output::Late { trade, watermark_us } = &o {
                    let why = format!(
                        "event time {} µs is beyond the correction horizon behind the watermark {} µs",
                        trade.event_time_us, watermark_us
                    );
                    let q = QuarantineRecord {
                        venue: Some(trade.venue.clone()),
                        instrument: Some(trade.instrument.clone()),
                        ..decoder::quarantined(&msg, "late", "windows", why)
                    };
                    produced.push((
                        quarantine.clone(),
                        trade.instrument.as_bytes().to_vec(),
                        framed(ids.quarantine, &q),
                    ));
                } else {
                    produced.extend(output(o, &cfg.prefix, &ids));
                }
            }
        }
        // Quiet instruments close their windows (by the clock only once the input is read).
        for (builder, _) in builders.values_mut() {
            builder.tick(now_us(), caught_up, &mut out);
        }
        produced.extend(out.drain(..).filter_map(|o| output(o, &cfg.prefix, &ids)));
        send_all(&producer, &runtime, produced)?;
        traced.into_iter().for_each(Span::end);
        commit(&consumer, &input, &mut builders)?;
    }
    Ok(())
}

/// Commit, per partition, the lowest offset a kept window needs (or past the last read).
fn commit(
    consumer: &BaseConsumer,
    input: &str,
    builders: &mut HashMap<i32, (KlineBuilder, i64)>,
) -> Result<(), WorkerError> {
    // A partition taken away by a rebalance: its new owner rebuilds from the committed offset.
    let assigned: Vec<i32> = consumer.assignment()?.elements().iter().map(|e| e.partition()).collect();
    builders.retain(|p, _| assigned.contains(p));
    let positions: Vec<(i32, i64)> = builders
        .iter_mut()
        .filter(|(_, (_, last))| *last >= 0)
        .map(|(partition, (builder, last))| (*partition, builder.needed_offset().unwrap_or(*last + 1)))
        .collect();
    broker::commit_positions(consumer, positions.into_iter().map(|(p, o)| (input, p, o)));
    Ok(())
}

fn output(o: Output, prefix: &str, ids: &Ids) -> Option<Produced> {
    match o {
        Output::Bar(k) => {
            let id = ids.kline[&k.interval];
            Some((format!("{prefix}kline.{}", k.interval), k.instrument.as_bytes().to_vec(), framed(id, &k)))
        }
        Output::Overflow(e) => {
            tracing::error!(error = %e, "a bar cannot be written");
            None
        }
        Output::Late { .. } => None,
    }
}
