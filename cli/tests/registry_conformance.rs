//! Third-party Schema Registry clients against `tickwatch registry`: the Rust crate
//! `schema_registry_converter` and the PyPI client `python-schema-registry-client`. Bytes
//! travel both ways: what they encode, tickwatch decodes, and the other way round.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::schema_registry_common::{SchemaType, SubjectNameStrategy, SuppliedSchema};
use std::process::Command;
use tickwatch_model::{wire, AvroRecord, Decimal, InstrumentKind, TakerSide, Trade};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_testkit::{repo_root, stack, unique};

fn trade(id: &str) -> Trade {
    Trade {
        venue: "binance".into(),
        instrument: "NKN-USDT".into(),
        base: "NKN".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: "NKNUSDT".into(),
        trade_id: id.into(),
        price: "0.3412".parse().unwrap(),
        size: "1234.5".parse().unwrap(),
        taker_side: TakerSide::Sell,
        event_time_us: 1_634_036_400_123_000,
        receive_time_us: 1_634_036_400_125_000,
        source_lag_ms: 2,
        sequence: Some(7),
    }
}

#[tokio::test]
async fn schema_registry_converter_round_trips_with_tickwatch() {
    let url = stack().settings.registry.url.clone();
    let topic = unique("conv");
    let settings = || SrSettings::new(url.clone());

    // The converter registers the Trade schema itself (TopicNameStrategyWithSchema) and encodes.
    let ours = trade("conv-1");
    let value = GenericDatumReader::builder(Trade::schema())
        .build()
        .unwrap()
        .read_value(&mut &ours.to_avro().unwrap()[..])
        .unwrap();
    let supplied =
        SuppliedSchema::new(Some("io.tickwatch.Trade".into()), SchemaType::Avro, Trade::SCHEMA_JSON.to_string());
    let strategy = SubjectNameStrategy::TopicNameStrategyWithSchema(topic.clone(), false, supplied);
    let encoded = AvroEncoder::new(settings()).encode_value(value, &strategy).await.expect("converter encodes");
    let (id, datum) = wire::unframe(&encoded).unwrap();
    assert_eq!(Trade::from_avro(datum).unwrap(), ours, "tickwatch decodes what the converter wrote");
    let client = RegistryClient::new(&url);
    assert_eq!(client.latest(&format!("{topic}-value")).await.unwrap().id, id);

    // tickwatch frames with the registry id; the converter decodes it by fetching the schema.
    let second = trade("conv-2");
    let framed = wire::frame(id, &second.to_avro().unwrap());
    let decoded = AvroDecoder::new(settings()).decode(Some(&framed)).await.expect("converter decodes");
    let Value::Record(fields) = decoded.value else { panic!("not a record") };
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("trade_id"), Value::String("conv-2".into()));
    match get("price") {
        Value::Decimal(d) => {
            assert_eq!(Decimal::from_avro_bytes(&Vec::<u8>::try_from(d).unwrap()).unwrap().to_string(), "0.3412")
        }
        other => panic!("price is {other:?}"),
    }
    assert_eq!(get("event_time_us"), Value::TimestampMicros(1_634_036_400_123_000));
}

#[tokio::test]
async fn python_schema_registry_client_round_trips_with_tickwatch() {
    let stack = stack();
    let subject = format!("{}-value", unique("py"));
    let client = RegistryClient::new(&stack.settings.registry.url);
    let id = client.register(&subject, Trade::SCHEMA_JSON).await.unwrap();
    let ours = trade("py-from-rust");
    let framed = wire::frame(id, &ours.to_avro().unwrap());
    let hex: String = framed.iter().map(|b| format!("{b:02x}")).collect();

    let out = Command::new(&stack.python)
        .arg(repo_root().join("cli/tests/python/registry_client_check.py"))
        .arg(&stack.settings.registry.url)
        .arg(&subject)
        .arg(repo_root().join("schemas/avro/trade.avsc"))
        .arg(&hex)
        .output()
        .expect("the stack's python runs");
    assert!(out.status.success(), "python client checks failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["schema_id"].as_u64(), Some(id as u64));

    // What the Python client decoded from tickwatch's bytes.
    let d = &report["decoded"];
    assert_eq!(d["trade_id"], "py-from-rust");
    assert_eq!(d["price"], "0.3412");
    assert_eq!(d["size"], "1234.5");
    assert_eq!(d["taker_side"], "SELL");
    assert_eq!(d["event_time_us"].as_i64(), Some(ours.event_time_us));
    assert_eq!(d["sequence"].as_i64(), Some(7));

    // What tickwatch decodes from the Python client's bytes (via the registry, by id).
    let bytes: Vec<u8> = (0..report["encoded_hex"].as_str().unwrap().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&report["encoded_hex"].as_str().unwrap()[i..i + 2], 16).unwrap())
        .collect();
    let (writer_id, datum) = wire::unframe(&bytes).unwrap();
    assert_eq!(writer_id, id);
    let writer = client.schema(writer_id).await.unwrap();
    let t = Trade::from_avro_with_writer(datum, &writer).unwrap();
    assert_eq!(t.trade_id, "py-1");
    assert_eq!(t.price.to_string(), "29123.4");
    assert_eq!(t.size, Decimal::from_units(1));
    assert_eq!(t.taker_side, TakerSide::Buy);
    assert_eq!(t.event_time_us, 1_652_400_000_000_123);
    assert_eq!(t.sequence, None);
}
