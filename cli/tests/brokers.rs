//! The Kafka-API behaviour tickwatch relies on, checked on both local brokers (Tansu and
//! noida-db) with the same client settings production uses. What a broker is known to get
//! wrong (`BrokerFlavor`) is checked only where it works: that is the one place quirks live.

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, FutureProducer, FutureRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_runtime::settings::BrokerSettings;
use tickwatch_testkit::{stack, unique};

async fn topic(b: &BrokerSettings, partitions: i32) -> String {
    let name = unique("brk");
    let spec = TopicSpec {
        name: name.clone(),
        partitions,
        replication: 1,
        configs: vec![("compression.type".into(), "zstd".into())],
    };
    let created = broker::create_topics(b, std::slice::from_ref(&spec)).await.unwrap();
    assert_eq!(created, vec![name.clone()]);
    // Creating again is not an error (idempotent declaration).
    assert!(broker::create_topics(b, &[spec]).await.unwrap().is_empty());
    name
}

/// Poll until `n` messages arrived or `secs` passed.
fn drain_for(c: &BaseConsumer, n: usize, secs: u64) -> Vec<(i32, i64, Vec<u8>, Vec<u8>)> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.expect("fetch succeeds");
            out.push((
                m.partition(),
                m.offset(),
                m.key().unwrap_or_default().to_vec(),
                m.payload().unwrap_or_default().to_vec(),
            ));
        }
    }
    out
}

fn drain(c: &BaseConsumer, n: usize) -> Vec<(i32, i64, Vec<u8>, Vec<u8>)> {
    drain_for(c, n, 30)
}

async fn produce_and_consume_in_a_group(b: BrokerSettings) {
    let t = topic(&b, 3).await;
    let producer: FutureProducer = broker::producer_config(&b).create().unwrap();
    for i in 0..300 {
        let key = format!("inst-{}", i % 7);
        let payload = format!("payload-{i:04}");
        let headers = OwnedHeaders::new().insert(rdkafka::message::Header { key: "trace", value: Some("abc") });
        producer
            .send(FutureRecord::to(&t).key(&key).payload(&payload).headers(headers), Duration::from_secs(30))
            .await
            .unwrap();
    }
    let group = unique("grp");
    let c: BaseConsumer = broker::consumer_config(&b, &group).create().unwrap();
    c.subscribe(&[&t]).unwrap();
    let first = drain(&c, 150);
    assert_eq!(first.len(), 150, "{:?}: first half arrives", b.flavor);
    // Per key, payload order is production order (same key, same partition).
    for k in 0..7 {
        let key = format!("inst-{k}").into_bytes();
        let seq: Vec<&Vec<u8>> = first.iter().filter(|m| m.2 == key).map(|m| &m.3).collect();
        assert!(seq.windows(2).all(|w| w[0] < w[1]), "{:?}: order within a key", b.flavor);
    }
    // Commit exactly what was processed (offset + 1 per partition), as the sinks will.
    let mut next = std::collections::BTreeMap::new();
    for m in &first {
        let e = next.entry(m.0).or_insert(0);
        *e = (*e).max(m.1 + 1);
    }
    let mut tpl = TopicPartitionList::new();
    for (p, o) in next {
        tpl.add_partition_offset(&t, p, Offset::Offset(o)).unwrap();
    }
    c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(c);
    // A new member of the same group resumes after the committed offsets: nothing again,
    // nothing skipped.
    let c: BaseConsumer = broker::consumer_config(&b, &group).create().unwrap();
    c.subscribe(&[&t]).unwrap();
    let rest = drain(&c, 150);
    let mut all: Vec<Vec<u8>> = first.iter().chain(rest.iter()).map(|m| m.3.clone()).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 300, "{:?}: every record exactly once across the restart", b.flavor);
    assert!(drain_for(&c, 1, 3).is_empty(), "{:?}: no redelivery after the end", b.flavor);

    // Headers survive (trace context will travel in them).
    let c: BaseConsumer = broker::client_config(&b).set("group.id", unique("hdr")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(&t, p, Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let header = loop {
        assert!(Instant::now() < deadline, "{:?}: no message with headers", b.flavor);
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            break m.headers().map(|h| h.get(0).value.map(<[u8]>::to_vec));
        }
    };
    assert_eq!(header, Some(Some(b"abc".to_vec())));
}

#[tokio::test]
async fn idempotent_zstd_produce_and_group_consume_on_tansu() {
    produce_and_consume_in_a_group(stack().broker()).await;
}

#[tokio::test]
async fn idempotent_zstd_produce_and_group_consume_on_noida() {
    produce_and_consume_in_a_group(stack().noida()).await;
}

#[tokio::test]
async fn offsets_for_times_where_the_broker_supports_it() {
    for b in stack().brokers() {
        if !b.flavor.offsets_for_times_uses_record_time() {
            eprintln!(
                "{:?}: offsets-for-times answers by storage time; replay-by-time runs on the other broker",
                b.flavor
            );
            continue;
        }
        let t = topic(&b, 1).await;
        let producer: FutureProducer = broker::producer_config(&b).create().unwrap();
        // Recent times: a broker may delete records older than the topic's retention.
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let base = now_ms - 3_600_000;
        for i in 0..10i64 {
            producer
                .send(
                    FutureRecord::to(&t).key("k").payload(&format!("{i}")).timestamp(base + i * 60_000),
                    Duration::from_secs(30),
                )
                .await
                .unwrap();
        }
        let c: BaseConsumer = broker::client_config(&b).set("group.id", unique("oft")).create().unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&t, 0, Offset::Offset(base + 4 * 60_000 - 1)).unwrap();
        let found = c.offsets_for_times(tpl, Duration::from_secs(30)).unwrap();
        let offset = found.find_partition(&t, 0).unwrap().offset();
        assert_eq!(offset, Offset::Offset(4), "{:?}: first record at or after the time", b.flavor);
    }
}

#[tokio::test]
async fn read_committed_hides_aborted_transactions_where_supported() {
    for b in stack().brokers() {
        if !b.flavor.read_committed_hides_aborted() {
            eprintln!(
                "{:?}: read_committed shows aborted records; transactional checks run on the other broker",
                b.flavor
            );
            continue;
        }
        let t = topic(&b, 1).await;
        let tx: ThreadedProducer<DefaultProducerContext> =
            broker::producer_config(&b).set("transactional.id", unique("tx")).create().unwrap();
        tx.init_transactions(Duration::from_secs(30)).unwrap();
        tx.begin_transaction().unwrap();
        tx.send(BaseRecord::to(&t).key("k").payload("aborted")).unwrap();
        tx.flush(Duration::from_secs(30)).unwrap();
        tx.abort_transaction(Duration::from_secs(30)).unwrap();
        tx.begin_transaction().unwrap();
        tx.send(BaseRecord::to(&t).key("k").payload("committed")).unwrap();
        tx.commit_transaction(Duration::from_secs(30)).unwrap();
        let c: BaseConsumer = broker::consumer_config(&b, &unique("rc")).create().unwrap();
        c.subscribe(&[&t]).unwrap();
        let got = drain(&c, 2);
        let payloads: Vec<&[u8]> = got.iter().map(|m| m.3.as_slice()).collect();
        assert_eq!(payloads, vec![b"committed".as_slice()], "{:?}", b.flavor);
    }
}

#[tokio::test]
async fn the_reliable_producer_survives_a_fatal_idempotence_error() {
    // Tansu was seen answering OutOfOrderSequenceNumber, which librdkafka treats as fatal.
    // Inject that fatal error and check the producer heals.
    let b = stack().broker();
    let t = topic(&b, 1).await;
    let p = broker::ReliableProducer::new(&b).unwrap();
    p.send(&t, None, b"k", Some(b"before")).await.unwrap();
    let client = p.client();
    // SAFETY: librdkafka's own fault-injection entry point, on a live handle.
    unsafe {
        rdkafka::bindings::rd_kafka_test_fatal_error(
            client.client().native_ptr(),
            rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
            c"injected by the test".as_ptr(),
        );
    }
    assert!(client.client().fatal_error().is_some(), "the injected error is fatal");
    p.send(&t, None, b"k", Some(b"after")).await.expect("a new producer sends it");
    assert_eq!(p.recreated(), 1);
    let c: BaseConsumer = broker::consumer_config(&b, &unique("rel")).create().unwrap();
    c.subscribe(&[&t]).unwrap();
    let got: Vec<Vec<u8>> = drain(&c, 2).into_iter().map(|m| m.3).collect();
    assert_eq!(got, vec![b"before".to_vec(), b"after".to_vec()]);
}
