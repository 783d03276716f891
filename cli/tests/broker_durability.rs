//! The broker keeps its log in the S3 server: a Tansu killed with SIGKILL and started again
//! on the same bucket still has every acknowledged record. Runs its own Tansu (own port, own
//! bucket) on the stack's S3 server, so the shared broker is left alone.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::{Duration, Instant};
use tickwatch_runtime::broker::{self, BrokerFlavor, TopicSpec};
use tickwatch_runtime::settings::BrokerSettings;
use tickwatch_testkit::{free_port, servers, stack, unique, ChildGuard};

fn start_tansu(port: u16, bucket: &str) -> ChildGuard {
    let s = stack();
    let (key, secret) = (s.var("TICKWATCH_S3_ACCESS_KEY").unwrap(), s.var("TICKWATCH_S3_SECRET_KEY").unwrap());
    let env = [
        ("AWS_ENDPOINT", s.s3_endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ];
    servers::tansu(s, port, &format!("s3://{bucket}/"), &env)
}

#[tokio::test]
async fn acknowledged_records_survive_a_broker_kill() {
    let s = stack();
    let bucket = unique("tansu").to_lowercase();
    // s3s-fs serves each top-level folder of its root as a bucket.
    std::fs::create_dir_all(s.dir.join("s3").join(&bucket)).unwrap();
    let port = free_port();
    let b = BrokerSettings {
        bootstrap: format!("127.0.0.1:{port}"),
        flavor: BrokerFlavor::Tansu,
        client_id: "durability".into(),
        fetch_wait_ms: 500,
        compression: Default::default(),
    };
    let topic = "durable".to_string();

    let first = start_tansu(port, &bucket);
    broker::create_topics(&b, &[TopicSpec { name: topic.clone(), partitions: 2, replication: 1, configs: vec![] }])
        .await
        .unwrap();
    let producer: FutureProducer = broker::producer_config(&b).create().unwrap();
    for i in 0..200 {
        producer
            .send(
                FutureRecord::to(&topic).key(&format!("k{}", i % 5)).payload(&format!("{i:03}")),
                Duration::from_secs(30),
            )
            .await
            .expect("acknowledged");
    }
    drop(producer);
    drop(first); // SIGKILL

    let _second = start_tansu(port, &bucket);
    let c: BaseConsumer = broker::consumer_config(&b, &unique("dur")).create().unwrap();
    c.subscribe(&[&topic]).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < 200 && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            got.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 200, "every acknowledged record is back after the restart");
    std::fs::remove_dir_all(s.dir.join("s3").join(&bucket)).ok();
}
