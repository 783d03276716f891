//! What the workers share to write their outputs: framing a record for the wire, and sending a
//! batch with every acknowledgement awaited before offsets move.

use crate::broker::{BrokerError, ReliableProducer};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tickwatch_model::{wire, AvroRecord};

/// A record to produce: topic, key, framed value.
pub type Produced = (String, Vec<u8>, Vec<u8>);

/// Wall-clock time in Unix µs.
pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// A record in the Confluent wire format under schema `id`.
pub fn framed<T: AvroRecord>(id: u32, record: &T) -> Vec<u8> {
    let mut value = Vec::with_capacity(256);
    wire::write_header(id, &mut value);
    record.write_avro(&mut value).expect("the direct codec cannot fail");
    value
}

/// Produce every record and wait for every acknowledgement.
pub fn send_all(
    producer: &Arc<ReliableProducer>,
    runtime: &tokio::runtime::Handle,
    produced: Vec<Produced>,
) -> Result<(), BrokerError> {
    runtime.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (topic, key, value) in produced {
            let producer = producer.clone();
            set.spawn(async move { producer.send(&topic, None, &key, Some(&value)).await });
        }
        while let Some(done) = set.join_next().await {
            done.expect("send task does not panic")?;
        }
        Ok(())
    })
}
