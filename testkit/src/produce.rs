//! Producing test input: records framed with their schema id, sent in order, every
//! acknowledgement awaited ([`ReliableProducer::send_in_order`] resends from the first
//! refused record, with a new producer when Tansu killed the old one).

use tickwatch_model::{wire, AvroRecord};
use tickwatch_runtime::broker::{OwnedRecord, ReliableProducer};

/// Send `recs` to partition 0 of `topic`, keyed by `key`.
pub async fn send_records<T: AvroRecord>(
    producer: &ReliableProducer,
    topic: &str,
    schema_id: u32,
    key: impl Fn(&T) -> String,
    recs: &[T],
) {
    for chunk in recs.chunks(500) {
        let records: Vec<OwnedRecord> = chunk
            .iter()
            .map(|r| OwnedRecord {
                topic: topic.to_string(),
                partition: Some(0),
                key: Some(key(r).into_bytes()),
                payload: Some(wire::frame(schema_id, &r.to_avro().expect("record encodes"))),
                ..OwnedRecord::default()
            })
            .collect();
        producer.send_in_order(&records).await.unwrap_or_else(|e| panic!("cannot produce to {topic}: {e}"));
    }
}
