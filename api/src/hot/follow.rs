//! Following the clean topics from their end (from their start on brokers whose end offsets
//! are not exact): every partition of trades, reference, book.1s,
//! signals, price.smooth and alerts is assigned (no consumer group: every API instance reads
//! everything and commits nothing), and each record moves its series' hot value.

use super::HotState;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tickwatch_model::{Alert, BookTop, ReferencePrice, Signal, SmoothPrice, Trade};
use tickwatch_runtime::broker;
use tickwatch_runtime::decoder::RecordDecoder;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::settings::BrokerSettings;
use tickwatch_runtime::trace::{self, Span, SpanKind};

/// The topics followed, without the prefix.
pub const HOT_TOPICS: [&str; 6] = ["trades", "reference", "book.1s", "signals", "price.smooth", "alerts"];

/// Counters the API reports in `/metrics`-style log lines and tests read.
#[derive(Default)]
pub struct FollowStats {
    pub records: AtomicU64,
    pub undecodable: AtomicU64,
    /// Set once every topic's partitions are assigned.
    pub assigned: AtomicBool,
}

#[derive(Default)]
struct Decoders {
    trades: RecordDecoder<Trade>,
    reference: RecordDecoder<ReferencePrice>,
    book: RecordDecoder<BookTop>,
    signals: RecordDecoder<Signal>,
    smooth: RecordDecoder<SmoothPrice>,
    alerts: RecordDecoder<Alert>,
}

/// Follow until `stop`. Blocking: run it on a thread of its own.
pub fn run(
    settings: &BrokerSettings,
    registry: &RegistryClient,
    prefix: &str,
    hot: &HotState,
    stats: &FollowStats,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<(), rdkafka::error::KafkaError> {
    // Where the end is: brokers whose ListOffsets is exact give it; on the others (Tansu) the
    // end is a guess that can skip records, so those are read from the start instead (the
    // slots keep the newest event time either way).
    let exact = settings.flavor.list_offsets_high_watermark_is_exact();
    let start = if exact { Offset::End } else { Offset::Beginning };
    let mut cfg = broker::consumer_config(settings, &format!("{}tickwatch-api-follow", settings.client_id));
    cfg.set("auto.offset.reset", if exact { "latest" } else { "earliest" });
    let consumer: BaseConsumer = cfg.create()?;
    let topics: Vec<String> = HOT_TOPICS.iter().map(|t| format!("{prefix}{t}")).collect();
    assign_when_present(&consumer, &topics, start, stop)?;
    stats.assigned.store(true, Ordering::Relaxed);
    tracing::info!(topics = ?topics, from_start = !exact, "following the clean topics");
    let mut dec = Decoders::default();
    let mut warned = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(msg) = broker::poll_message(&consumer, Duration::from_millis(200), "api follower")? else {
            continue;
        };
        let payload = msg.payload().unwrap_or_default();
        let topic = msg.topic().strip_prefix(prefix).unwrap_or_default();
        let span = trace::from_message(&msg).map(|parent| {
            let mut span = Span::child(format!("follow {}", msg.topic()), SpanKind::Consumer, &parent);
            span.attr("messaging.system", "kafka")
                .attr("messaging.destination.name", msg.topic())
                .attr("messaging.kafka.offset", msg.offset());
            span
        });
        let applied = apply(topic, payload, &mut dec, registry, &runtime, hot);
        if let Some(mut span) = span {
            if let Err(why) = &applied {
                span.failed(why.clone());
            }
            // Ended once the record moved the hot value the API answers from.
            span.end();
        }
        stats.records.fetch_add(1, Ordering::Relaxed);
        if let Err(why) = applied {
            // The sinks quarantine bad records; here they are only counted and skipped.
            let n = stats.undecodable.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= warned * 2 {
                warned = n;
                tracing::warn!(
                    topic = msg.topic(),
                    offset = msg.offset(),
                    undecodable = n,
                    "skipping a record the API cannot read: {why}"
                );
            }
        }
    }
    Ok(())
}

fn apply(
    topic: &str,
    payload: &[u8],
    dec: &mut Decoders,
    registry: &RegistryClient,
    runtime: &tokio::runtime::Handle,
    hot: &HotState,
) -> Result<(), String> {
    match topic {
        "trades" => hot.on_trade(&dec.trades.decode(payload, registry, runtime)?),
        "reference" => hot.on_reference(&dec.reference.decode(payload, registry, runtime)?),
        "book.1s" => hot.on_book_top(&dec.book.decode(payload, registry, runtime)?),
        "signals" => hot.on_signal(&dec.signals.decode(payload, registry, runtime)?),
        "price.smooth" => hot.on_smooth(&dec.smooth.decode(payload, registry, runtime)?),
        "alerts" => hot.on_alert(&dec.alerts.decode(payload, registry, runtime)?),
        other => return Err(format!("not a followed topic: {other}")),
    }
    Ok(())
}

/// Assign every partition of every topic at `start`, waiting (one line a minute) for topics
/// that do not exist yet.
fn assign_when_present(
    consumer: &BaseConsumer,
    topics: &[String],
    start: Offset,
    stop: &AtomicBool,
) -> Result<(), rdkafka::error::KafkaError> {
    let mut waited = 0u32;
    loop {
        let mut tpl = TopicPartitionList::new();
        let mut missing = Vec::new();
        for t in topics {
            match consumer.fetch_metadata(Some(t), Duration::from_secs(5)) {
                Ok(md) => match md.topics().first().filter(|m| m.error().is_none() && !m.partitions().is_empty()) {
                    Some(m) => {
                        for p in m.partitions() {
                            tpl.add_partition_offset(t, p.id(), start)?;
                        }
                    }
                    None => missing.push(t.clone()),
                },
                Err(e) if broker::transient(&e) => missing.push(t.clone()),
                Err(e) => return Err(e),
            }
        }
        if missing.is_empty() || stop.load(Ordering::Relaxed) {
            return consumer.assign(&tpl);
        }
        if waited.is_multiple_of(60) {
            tracing::warn!(missing = ?missing, "waiting for topics to exist (run `tickwatch topics create`)");
        }
        waited += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Start the follower on its own thread.
pub fn spawn(
    settings: BrokerSettings,
    registry: RegistryClient,
    prefix: String,
    hot: Arc<HotState>,
    stats: Arc<FollowStats>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new().name("api-follow".into()).spawn(move || {
        if let Err(e) = run(&settings, &registry, &prefix, &hot, &stats, runtime, &stop) {
            tracing::error!(error = %e, "the topic follower stopped; hot values stay as they were until the API restarts");
        }
    })
}
