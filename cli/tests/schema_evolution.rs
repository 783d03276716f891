//! Schema evolution through a real topic: a producer moves to a newer writer schema, and a
//! consumer still on the old reader schema keeps decoding, by looking the writer schema up
//! in the registry by the id in each message.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::{Duration, Instant};
use tickwatch_model::{wire, AvroRecord, InstrumentKind, TakerSide, Trade};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_testkit::{stack, unique};

fn trade(i: i64) -> Trade {
    Trade {
        venue: "bybit".into(),
        instrument: "XRP-USDT-PERP".into(),
        base: "XRP".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Perp,
        expiry_us: None,
        venue_symbol: "XRPUSDT".into(),
        trade_id: format!("t{i}"),
        price: format!("0.51{i}").parse().unwrap(),
        size: format!("{i}00").parse().unwrap(),
        taker_side: TakerSide::Buy,
        event_time_us: 1_733_011_200_000_000 + i,
        receive_time_us: 1_733_011_200_001_000 + i,
        source_lag_ms: 1,
        sequence: Some(i),
    }
}

#[tokio::test]
async fn old_reader_decodes_new_writer_through_the_broker() {
    let stack = stack();
    let b = stack.broker();
    let topic = unique("evo");
    broker::create_topics(&b, &[TopicSpec { name: topic.clone(), partitions: 1, replication: 1, configs: vec![] }])
        .await
        .unwrap();
    let subject = format!("{topic}-value");
    let registry = RegistryClient::new(&stack.settings.registry.url);
    registry.set_compatibility(&subject, "BACKWARD").await.unwrap();
    let v1 = registry.register(&subject, Trade::SCHEMA_JSON).await.unwrap();

    // v2 adds `liquidation` with a default: BACKWARD accepts it.
    let mut json: serde_json::Value = serde_json::from_str(Trade::SCHEMA_JSON).unwrap();
    json["fields"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "liquidation", "type": "boolean", "default": false}));
    let v2_text = json.to_string();
    assert!(registry.is_compatible(&subject, &v2_text).await.unwrap());
    let v2 = registry.register(&subject, &v2_text).await.unwrap();
    assert_ne!(v1, v2);
    let v2_schema = apache_avro::Schema::parse_str(&v2_text).unwrap();

    let producer: FutureProducer = broker::producer_config(&b).create().unwrap();
    let mut sent = Vec::new();
    for i in 0..6 {
        let t = trade(i);
        let bytes = if i % 2 == 0 {
            wire::frame(v1, &t.to_avro().unwrap())
        } else {
            // Written by a newer producer with the v2 writer schema.
            let mut value = apache_avro::to_value(&t).unwrap().resolve(Trade::schema()).unwrap();
            if let apache_avro::types::Value::Record(fields) = &mut value {
                fields.push(("liquidation".into(), apache_avro::types::Value::Boolean(true)));
            }
            let datum = apache_avro::writer::datum::GenericDatumWriter::builder(&v2_schema)
                .build()
                .unwrap()
                .write_value_to_vec(value)
                .unwrap();
            wire::frame(v2, &datum)
        };
        producer
            .send(FutureRecord::to(&topic).key(&t.instrument).payload(&bytes), Duration::from_secs(30))
            .await
            .unwrap();
        sent.push(t);
    }

    let c: BaseConsumer = broker::consumer_config(&b, &unique("evo")).create().unwrap();
    c.subscribe(&[&topic]).unwrap();
    let mut got = Vec::new();
    let mut ids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < sent.len() && Instant::now() < deadline {
        let Some(m) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap();
        let (id, datum) = wire::unframe(m.payload().unwrap()).unwrap();
        ids.push(id);
        let writer = registry.schema(id).await.unwrap();
        got.push(Trade::from_avro_with_writer(datum, &writer).unwrap());
    }
    assert_eq!(got, sent, "the old reader sees every trade, exact");
    assert!(ids.contains(&v1) && ids.contains(&v2));
}
