//! Producing test input: records framed with their schema id, pipelined in order, every
//! acknowledgement awaited. Tansu sometimes answers a sequence error that kills an idempotent
//! producer: the chunk is then sent again with a new one (consumers keep each record once).

use rdkafka::producer::FutureRecord;
use tickwatch_model::{wire, AvroRecord};
use tickwatch_runtime::broker::ReliableProducer;
use tickwatch_runtime::settings::BrokerSettings;

/// Send `recs` to partition 0 of `topic`, keyed by `key`.
pub async fn send_records<T: AvroRecord>(
    broker: &BrokerSettings,
    producer: &mut ReliableProducer,
    topic: &str,
    schema_id: u32,
    key: impl Fn(&T) -> String,
    recs: &[T],
) {
    for chunk in recs.chunks(500) {
        let values: Vec<(String, Vec<u8>)> =
            chunk.iter().map(|r| (key(r), wire::frame(schema_id, &r.to_avro().expect("record encodes")))).collect();
        for attempt in 0.. {
            let client = producer.client();
            let deliveries: Vec<_> = values
                .iter()
                .map(|(k, v)| {
                    client
                        .send_result(FutureRecord::to(topic).partition(0).key(k).payload(v))
                        .map_err(|(e, _)| e)
                        .expect("the producer queue takes the record")
                })
                .collect();
            let mut ok = true;
            for d in deliveries {
                ok &= matches!(d.await, Ok(Ok(_)));
            }
            if ok {
                break;
            }
            assert!(attempt < 3, "cannot produce to {topic}");
            *producer = ReliableProducer::new(broker).expect("a new producer");
        }
    }
}
