//! Replay from the broker: every record whose timestamp lies in [--from, --to), in its
//! partition's order, to the same partition number of the target (modulo its partition
//! count), with its key, value, headers and timestamp, plus the replay header naming where it
//! came from. Where the broker finds offsets by record time the read starts there; elsewhere
//! (Tansu answers by write time) each partition is read from its start and the range is a
//! filter. The read ends at each partition's end as of the replay.

use super::{replay_header, BATCH};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tickwatch_runtime::broker::{self, OwnedRecord, ReliableProducer};
use tickwatch_runtime::Settings;

/// Replay `[from, to)` of `topic` into `to_topic`.
pub async fn run(settings: &Settings, topic: &str, (from, to): (i64, i64), to_topic: &str) -> anyhow::Result<()> {
    if to_topic == topic {
        anyhow::bail!("--to-topic must differ from --topic: a replay into its own source would never end");
    }
    let b = &settings.broker;
    let consumer = super::metadata_consumer(settings)?;
    let partitions = partition_count(&consumer, topic)?
        .ok_or_else(|| anyhow::anyhow!("topic {topic} does not exist on {}", b.bootstrap))?;
    let out_partitions = super::target_partitions(settings, &consumer, to_topic, partitions).await?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Offset(0))?;
    }
    if b.flavor.offsets_for_times_uses_record_time() {
        let mut by_time = TopicPartitionList::new();
        for p in 0..partitions {
            by_time.add_partition_offset(topic, p, Offset::Offset(from))?;
        }
        let found = consumer.offsets_for_times(by_time, Duration::from_secs(30))?;
        for e in found.elements() {
            // No record at or after --from: the partition's end (nothing to replay there).
            if let Offset::Offset(o) = e.offset() {
                tpl.set_partition_offset(topic, e.partition(), Offset::Offset(o))?;
            } else {
                tpl.set_partition_offset(topic, e.partition(), Offset::End)?;
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
        if !ts.is_some_and(|t| t >= from && t < to) {
            skipped += 1;
            continue;
        }
        let mut headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = msg
            .headers()
            .map(|h| h.iter().map(|h| (h.key.as_bytes().to_vec(), h.value.map(<[u8]>::to_vec))).collect())
            .unwrap_or_default();
        headers.push(replay_header(msg.topic(), msg.partition(), msg.offset()));
        batch.push(OwnedRecord {
            topic: to_topic.to_string(),
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
        "replayed {replayed} records of {topic} [{from}, {to}) to {to_topic} (skipped {skipped} outside the range)"
    );
    Ok(())
}

pub(super) fn partition_count(consumer: &BaseConsumer, topic: &str) -> Result<Option<i32>, KafkaError> {
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    Ok(md.topics().first().filter(|t| t.error().is_none()).map(|t| t.partitions().len() as i32).filter(|n| *n > 0))
}
