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

/// Produce every record, in order, and wait for every acknowledgement. The sends are all
/// started before any is awaited (pipelined), in the order given: the idempotent producer
/// keeps that order per partition, which readers of a series rely on.
pub fn send_all(
    producer: &Arc<ReliableProducer>,
    runtime: &tokio::runtime::Handle,
    produced: Vec<Produced>,
) -> Result<(), BrokerError> {
    runtime.block_on(async {
        let sends = produced.iter().map(|(topic, key, value)| producer.send(topic, None, key, Some(value)));
        futures_util::future::try_join_all(sends).await?;
        Ok(())
    })
}
