//! `tickwatch replay`: re-publish a time range of a topic into another (a shadow topic to
//! rebuild k-lines from, or to try a new rule on): every record whose timestamp lies in
//! [--from, --to), in its partition's order, to the same partition number of the target
//! (modulo its partition count), with its key, value, headers and timestamp, plus a
//! `tickwatch-replay` header naming where it came from. Where the broker finds offsets by
//! record time the read starts there; elsewhere (Tansu answers by write time) each
//! partition is read from its start and the range is a filter. The read ends at each
//! partition's end as of the replay.

use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tickwatch_runtime::broker::{self, OwnedRecord, ReliableProducer, TopicSpec};
use tickwatch_runtime::Settings;

/// The header a replayed record carries: `<topic>/<partition>/<offset>` of its original.
pub const REPLAY_HEADER: &str = "tickwatch-replay";

/// Records sent per batch: each batch is enqueued whole, in order, then acknowledged.
const BATCH: usize = 5_000;

#[derive(Args)]
pub struct ReplayArgs {
    /// The topic to read (as named on the broker, prefix included).
    #[arg(long)]
    topic: String,
    /// Start of the range (inclusive, record timestamps): milliseconds since the epoch or RFC 3339.
    #[arg(long, value_parser = super::time_arg)]
    from: i64,
    /// End of the range (exclusive; default: now).
    #[arg(long, value_parser = super::time_arg)]
    to: Option<i64>,
    /// The topic to write; created with the source's partition count when missing. Never
    /// the source itself.
    #[arg(long)]
    to_topic: String,
}

pub async fn run(settings: &Settings, args: ReplayArgs) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| tickwatch_runtime::produce::now_us() / 1000);
    if to <= args.from {
        anyhow::bail!("--to must be after --from");
    }
    if args.to_topic == args.topic {
        anyhow::bail!("--to-topic must differ from --topic: a replay into its own source would never end");
    }
    let b = &settings.broker;
    let consumer: BaseConsumer = broker::client_config(b)
        .set("group.id", format!("{}tickwatch-replay-{}", b.client_id, std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let partitions = partition_count(&consumer, &args.topic)?
        .ok_or_else(|| anyhow::anyhow!("topic {} does not exist on {}", args.topic, b.bootstrap))?;
    let out_partitions = match partition_count(&consumer, &args.to_topic)? {
        Some(n) => n,
        None => {
            let spec = TopicSpec { name: args.to_topic.clone(), partitions, replication: 1, configs: vec![] };
            broker::create_topics(b, &[spec]).await?;
            tracing::info!(topic = %args.to_topic, partitions, "created the target topic");
            partitions
        }
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(&args.topic, p, Offset::Offset(0))?;
    }
    if b.flavor.offsets_for_times_uses_record_time() {
        let mut by_time = TopicPartitionList::new();
        for p in 0..partitions {
            by_time.add_partition_offset(&args.topic, p, Offset::Offset(args.from))?;
        }
        let found = consumer.offsets_for_times(by_time, Duration::from_secs(30))?;
        for e in found.elements() {
            // No record at or after --from: the partition's end (nothing to replay there).
            if let Offset::Offset(o) = e.offset() {
                tpl.set_partition_offset(&args.topic, e.partition(), Offset::Offset(o))?;
            } else {
                tpl.set_partition_offset(&args.topic, e.partition(), Offset::End)?;
            }
        }
    }
    consumer.assign(&tpl)?;
    let producer = ReliableProducer::new(b)?;
    let (mut replayed, mut skipped) = (0u64, 0u64);
    let mut ended: BTreeSet<i32> = BTreeSet::new();
    let mut last_report = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    while ended.len() < partitions as usize {
        let msg = match consumer.poll(Duration::from_millis(500)) {
            None => continue,
            Some(Err(KafkaError::PartitionEOF(p))) => {
                ended.insert(p);
                continue;
            }
            Some(Err(e)) if broker::transient(&e) => continue,
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(m)) => m,
        };
        let ts = msg.timestamp().to_millis();
        if !ts.is_some_and(|t| t >= args.from && t < to) {
            skipped += 1;
            continue;
        }
        let mut headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = msg
            .headers()
            .map(|h| h.iter().map(|h| (h.key.as_bytes().to_vec(), h.value.map(<[u8]>::to_vec))).collect())
            .unwrap_or_default();
        headers.push((
            REPLAY_HEADER.as_bytes().to_vec(),
            Some(format!("{}/{}/{}", msg.topic(), msg.partition(), msg.offset()).into_bytes()),
        ));
        batch.push(OwnedRecord {
            topic: args.to_topic.clone(),
            partition: Some(msg.partition() % out_partitions),
            key: msg.key().map(<[u8]>::to_vec),
            payload: msg.payload().map(<[u8]>::to_vec),
            headers,
            timestamp_ms: ts,
        });
        replayed += 1;
        if batch.len() == BATCH {
            producer.send_in_order(&batch).await?;
            batch.clear();
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            tracing::info!(replayed, skipped, partitions_done = ended.len(), "replaying");
            last_report = Instant::now();
        }
    }
    producer.send_in_order(&batch).await?;
    println!(
        "replayed {replayed} records of {} [{}, {to}) to {} (skipped {skipped} outside the range)",
        args.topic, args.from, args.to_topic
    );
    Ok(())
}

fn partition_count(consumer: &BaseConsumer, topic: &str) -> Result<Option<i32>, KafkaError> {
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    Ok(md.topics().first().filter(|t| t.error().is_none()).map(|t| t.partitions().len() as i32).filter(|n| *n > 0))
}
