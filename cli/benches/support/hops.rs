//! Where a run's latency is spent: how long after its receipt each trade was handed to the
//! broker by the ingestor (`raw.trades`) and by the transform host (`trades`). Both
//! producers leave the record's timestamp to librdkafka's clock at the moment the record
//! is handed over, so a topic's timestamps minus the trades' receive times are the delay
//! accumulated up to that stage; the row's `inserted_at` is the last point.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::time::{Duration, Instant};
use tickwatch_model::{wire, AvroRecord, RawTrade, Trade};
use tickwatch_runtime::broker;
use tickwatch_runtime::settings::BrokerSettings;

/// P50 and P95 (ms) of one point of the path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hop {
    pub p50: f64,
    pub p95: f64,
    pub records: usize,
}

/// The delay from receipt to `raw.trades` and to `trades`, read back from the two topics.
pub fn to_topics(settings: &BrokerSettings, prefix: &str) -> [Hop; 2] {
    [
        hop(settings, &format!("{prefix}.raw.trades"), |d| RawTrade::from_avro(d).map(|t| t.receive_time_us)),
        hop(settings, &format!("{prefix}.trades"), |d| Trade::from_avro(d).map(|t| t.receive_time_us)),
    ]
}

fn hop<E>(settings: &BrokerSettings, topic: &str, receive_us: impl Fn(&[u8]) -> Result<i64, E>) -> Hop {
    let consumer: BaseConsumer = broker::client_config(settings)
        .set("group.id", tickwatch_testkit::unique("hops"))
        .set("fetch.wait.max.ms", "50")
        .create()
        .expect("a consumer");
    let mut partitions = TopicPartitionList::new();
    // Offset 0, not Beginning: Tansu answers the ListOffsets that Beginning needs wrongly.
    partitions.add_partition_offset(topic, 0, Offset::Offset(0)).expect("a partition");
    consumer.assign(&partitions).expect("assigned");
    let mut delays_us = Vec::new();
    let mut last = Instant::now();
    // Every record: the topic is read until nothing more comes for three seconds.
    while last.elapsed() < Duration::from_secs(3) {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) else { continue };
        last = Instant::now();
        let (Some(payload), Some(ms)) = (m.payload(), m.timestamp().to_millis()) else { continue };
        let Ok((_, datum)) = wire::unframe(payload) else { continue };
        if let Ok(received) = receive_us(datum) {
            delays_us.push(ms * 1000 - received);
        }
    }
    delays_us.sort_unstable();
    let at = |q: f64| {
        delays_us.get(((delays_us.len() as f64 - 1.0) * q).round() as usize).map_or(f64::NAN, |us| *us as f64 / 1000.0)
    };
    Hop { p50: at(0.5), p95: at(0.95), records: delays_us.len() }
}
