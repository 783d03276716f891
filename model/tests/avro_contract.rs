//! Every record type encodes to bytes that an independent Avro reader (apache-avro's generic
//! decoder, driven only by the `.avsc` file) reads back with the same exact values.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::Schema;
use std::collections::BTreeMap;
use tickwatch_model::catalog::{by_name, SCHEMAS};
use tickwatch_model::*;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn generic(schema_json: &str, datum: &[u8]) -> Value {
    let schema = Schema::parse_str(schema_json).unwrap();
    GenericDatumReader::builder(&schema).build().unwrap().read_value(&mut &datum[..]).unwrap()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    match v {
        Value::Record(fields) => &fields.iter().find(|(n, _)| n == name).unwrap().1,
        other => panic!("not a record: {other:?}"),
    }
}

fn decimal_of(v: &Value) -> Decimal {
    match v {
        Value::Decimal(d) => Decimal::from_avro_bytes(&Vec::<u8>::try_from(d.clone()).unwrap()).unwrap(),
        Value::Union(_, inner) => decimal_of(inner),
        other => panic!("not a decimal: {other:?}"),
    }
}

fn round_trip<T: AvroRecord + PartialEq + std::fmt::Debug>(rec: &T) -> Value {
    let bytes = rec.to_avro().unwrap();
    // The direct codec writes exactly what apache-avro's serde writer writes.
    let reference = apache_avro::writer::datum::GenericDatumWriter::builder(T::schema())
        .human_readable(false)
        .build()
        .unwrap()
        .write_ser_to_vec(rec)
        .unwrap();
    assert_eq!(bytes, reference, "{} bytes differ from apache-avro's", T::NAME);
    assert!(T::is_own_schema(T::schema()));
    assert_eq!(&T::from_avro(&bytes).unwrap(), rec);
    // The resolving path (writer = our schema) gives the same value too.
    assert_eq!(&T::from_avro_with_writer(&bytes, T::schema()).unwrap(), rec);
    generic(T::SCHEMA_JSON, &bytes)
}

fn sample_trade() -> Trade {
    Trade {
        venue: "binance".into(),
        instrument: "BTC-USDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: "BTCUSDT".into(),
        trade_id: "12345".into(),
        price: dec("43250.12345678"),
        size: dec("0.00000001"),
        taker_side: TakerSide::Sell,
        event_time_us: 1_700_000_000_123_000,
        receive_time_us: 1_700_000_000_125_500,
        source_lag_ms: 2,
        sequence: Some(99),
    }
}

#[test]
fn every_schema_file_is_in_the_catalog_and_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/avro");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("avsc") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let name = json["name"].as_str().unwrap();
        let entry = by_name(name).unwrap_or_else(|| panic!("{} ({name}) is not in the catalog", path.display()));
        assert_eq!(entry.json, text);
        assert_eq!(entry.file, path.file_name().unwrap().to_str().unwrap());
        Schema::parse_str(&text).unwrap();
    }
    assert_eq!(files, SCHEMAS.len());
}

#[test]
fn trade_is_exact_through_avro() {
    let t = sample_trade();
    let v = round_trip(&t);
    assert_eq!(decimal_of(field(&v, "price")).to_string(), "43250.12345678");
    assert_eq!(decimal_of(field(&v, "size")).to_string(), "0.00000001");
    assert_eq!(field(&v, "event_time_us"), &Value::TimestampMicros(1_700_000_000_123_000));
    assert_eq!(field(&v, "taker_side"), &Value::Enum(2, "SELL".into()));
    assert_eq!(field(&v, "sequence"), &Value::Union(1, Box::new(Value::Long(99))));
    assert_eq!(field(&v, "expiry_us"), &Value::Union(0, Box::new(Value::Null)));
}

#[test]
fn raw_trade_round_trips() {
    let t = RawTrade {
        venue: "okx".into(),
        market: "swap".into(),
        symbol: "BTC-USDT-SWAP".into(),
        trade_id: "242720720".into(),
        price: dec("-0"),
        size: dec("12"),
        taker_side: TakerSide::Unknown,
        event_time_us: 1,
        receive_time_us: 2,
        sequence: None,
    };
    round_trip(&t);
}

#[test]
fn book_update_keeps_levels_in_order() {
    let lv = |p: &str, s: &str| PriceLevel { price: dec(p), size: dec(s) };
    let b = BookUpdate {
        venue: "okx".into(),
        instrument: "BTC-USD-20220527".into(),
        base: "BTC".into(),
        quote: "USD".into(),
        kind: InstrumentKind::Future,
        expiry_us: Some(1_653_609_600_000_000),
        venue_symbol: "BTC-USD-220527".into(),
        update_kind: BookUpdateKind::Delta,
        first_update_id: None,
        last_update_id: 123,
        prev_update_id: Some(122),
        checksum: Some(-1_881_014_294),
        bids: vec![lv("3366.1", "7"), lv("3366", "0")],
        asks: vec![lv("3366.8", "9")],
        event_time_us: 5,
        receive_time_us: 6,
        source_lag_ms: 0,
    };
    let v = round_trip(&b);
    match field(&v, "bids") {
        Value::Array(items) => {
            assert_eq!(items.len(), 2);
            assert_eq!(decimal_of(field(&items[0], "price")).to_string(), "3366.1");
            assert_eq!(decimal_of(field(&items[1], "size")), Decimal::ZERO);
        }
        other => panic!("{other:?}"),
    }
    let raw = RawBookUpdate {
        venue: "binance".into(),
        market: "spot".into(),
        symbol: "NKNUSDT".into(),
        update_kind: BookUpdateKind::Snapshot,
        first_update_id: Some(1),
        last_update_id: 2,
        prev_update_id: None,
        checksum: None,
        bids: vec![],
        asks: vec![lv("0.3", "100")],
        event_time_us: 1,
        receive_time_us: 1,
    };
    round_trip(&raw);
}

#[test]
fn reference_and_dex_and_kline_round_trip() {
    let r = ReferencePrice {
        venue: "binance-usdm".into(),
        instrument: "BTC-USDT-PERP".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Perp,
        expiry_us: None,
        venue_symbol: "BTCUSDT".into(),
        mark_price: Some(dec("11794.15000000")),
        index_price: None,
        funding_rate: Some(dec("-0.00038246")),
        next_funding_time_us: Some(1_562_306_400_000_000),
        event_time_us: 1_562_305_380_000_000,
        receive_time_us: 1_562_305_380_001_000,
        source_lag_ms: 1,
    };
    let v = round_trip(&r);
    assert_eq!(decimal_of(field(&v, "funding_rate")).to_string(), "-0.00038246");
    round_trip(&RawReferencePrice {
        venue: "bybit".into(),
        market: "linear".into(),
        symbol: "BTCUSDT".into(),
        mark_price: None,
        index_price: Some(dec("1")),
        funding_rate: None,
        next_funding_time_us: None,
        event_time_us: 1,
        receive_time_us: 1,
    });
    round_trip(&RawDexLog {
        chain: "ethereum".into(),
        chain_id: 1,
        protocol: "uniswap_v3".into(),
        address: "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640".into(),
        topics: vec!["0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67".into()],
        data: vec![0, 1, 2, 255],
        block_number: 17_000_000,
        block_hash: "0xabc".into(),
        parent_hash: "0xabb".into(),
        tx_hash: "0xdef".into(),
        log_index: 7,
        removed: false,
        block_time_us: 1,
        receive_time_us: 2,
        status: SwapStatus::Confirmed,
        version: 1,
    });
    round_trip(&DexSwap {
        chain: "ethereum".into(),
        chain_id: 1,
        protocol: "uniswap_v2".into(),
        pool: "0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc".into(),
        instrument: "USDC-WETH".into(),
        block_number: 1,
        block_hash: "0x1".into(),
        tx_hash: "0x2".into(),
        log_index: 3,
        sender: "0x4".into(),
        recipient: "0x5".into(),
        amount0_raw: "-115792089237316195423570985008687907853269984665640564039457584007913129639935".into(),
        amount1_raw: "1000000000000000000".into(),
        decimals0: 6,
        decimals1: 18,
        sqrt_price_x96: None,
        liquidity: None,
        tick: Some(-200_000),
        reserve0_raw: Some("1".into()),
        reserve1_raw: Some("2".into()),
        price: dec("0.000524"),
        base_size: dec("1500.5"),
        status: SwapStatus::Retracted,
        version: 2,
        block_time_us: 1,
        receive_time_us: 2,
        source_lag_ms: 0,
    });
    let k = Kline {
        venue: "binance".into(),
        instrument: "BTC-USDT".into(),
        interval: "1m".into(),
        open_time_us: 60_000_000,
        close_time_us: 120_000_000,
        open: dec("1"),
        high: dec("2"),
        low: dec("0.5"),
        close: dec("1.5"),
        volume: dec("10"),
        quote_volume: dec("12.5"),
        vwap: dec("1.25"),
        trade_count: 4,
        taker_buy_volume: dec("3"),
        taker_buy_quote_volume: dec("4.5"),
        first_trade_id: "1".into(),
        last_trade_id: "4".into(),
        version: 1,
        verification: KlineVerification::Verified,
        emitted_at_us: 120_500_000,
    };
    let v = round_trip(&k);
    assert_eq!(decimal_of(field(&v, "vwap")).to_string(), "1.25");
}

#[test]
fn alert_quarantine_quality_round_trip() {
    let mut labels = BTreeMap::new();
    labels.insert("pair".to_string(), "binance/okx".to_string());
    round_trip(&Alert {
        fingerprint: "f1".into(),
        rule: "spread".into(),
        severity: AlertSeverity::P2,
        state: AlertState::Firing,
        venue: None,
        instrument: Some("BTC-USDT".into()),
        value: Some(12.5),
        threshold: Some(10.0),
        summary: "spread 12.5 bps > 10 bps for 5 s".into(),
        labels,
        started_at_us: 1,
        emitted_at_us: 2,
    });
    let q = QuarantineRecord {
        source_topic: "raw.trades".into(),
        source_partition: 3,
        source_offset: 42,
        original_key: Some(b"BTCUSDT".to_vec()),
        original_value: vec![0, 0, 0, 0, 1, 0xde, 0xad],
        reason: "price_not_positive".into(),
        rule: "price_positive/v1".into(),
        detail: "price -1 <= 0".into(),
        venue: Some("binance".into()),
        instrument: None,
        quarantined_at_us: 9,
    };
    let v = round_trip(&q);
    assert_eq!(field(&v, "original_value"), &Value::Bytes(vec![0, 0, 0, 0, 1, 0xde, 0xad]));
    round_trip(&QualityMinute {
        venue: "bybit".into(),
        instrument: "XRP-USDT-PERP".into(),
        channel: "depth".into(),
        minute_us: 60_000_000,
        messages: 100,
        gaps: 1,
        lost_messages: None,
        out_of_order: 0,
        duplicates: 2,
        reconnects: 0,
        resyncs: 1,
        quarantined: 0,
        max_silence_ms: 1500,
        source_lag_p95_ms: Some(12.0),
    });
}

#[test]
fn signal_and_smooth_price_round_trip() {
    round_trip(&Signal {
        kind: "spread".into(),
        venue: "binance".into(),
        venue_b: Some("okx".into()),
        instrument: "BTC-USDT".into(),
        channel: None,
        interval: None,
        value: -12.25,
        unit: "bps".into(),
        at_us: 1_764_000_000_000_000,
        emitted_at_us: 1_764_000_000_100_000,
    });
    let v = round_trip(&SmoothPrice {
        instrument: "BTC-USDT".into(),
        tick_us: 1_764_000_001_000_000,
        price: dec("100.123456789012345678"),
        target: dec("101"),
        state: SmoothState::Ramping,
        ramp_end_us: Some(1_764_000_060_000_000),
        sources: 2,
        version: 7,
        emitted_at_us: 1_764_000_001_000_100,
    });
    assert_eq!(decimal_of(field(&v, "price")).to_string(), "100.123456789012345678");
}

#[test]
fn old_reader_reads_new_writer_and_new_reader_reads_old_writer() {
    // A newer Trade writer schema with one more optional field.
    let mut json: serde_json::Value = serde_json::from_str(Trade::SCHEMA_JSON).unwrap();
    json["fields"].as_array_mut().unwrap().push(serde_json::json!(
        {"name": "liquidation", "type": "boolean", "default": false}
    ));
    let newer = Schema::parse_str(&json.to_string()).unwrap();
    assert!(!Trade::is_own_schema(&newer));
    // Whitespace and doc strings do not change the canonical form.
    assert!(Trade::is_own_schema(&Schema::parse_str(&Trade::SCHEMA_JSON.replace("\n", " ")).unwrap()));
    // Write with the newer schema through the generic writer.
    let t = sample_trade();
    let mut value = apache_avro::to_value(&t).unwrap().resolve(Trade::schema()).unwrap();
    if let Value::Record(fields) = &mut value {
        fields.push(("liquidation".into(), Value::Boolean(true)));
    }
    let value = value.resolve(&newer).unwrap();
    let bytes = apache_avro::writer::datum::GenericDatumWriter::builder(&newer)
        .build()
        .unwrap()
        .write_value_to_vec(value)
        .unwrap();
    // Our (older) reader schema decodes it by resolution.
    assert_eq!(Trade::from_avro_with_writer(&bytes, &newer).unwrap(), t);
    // And bytes written with our schema are readable with the newer one (default fills in).
    let ours = t.to_avro().unwrap();
    let read = GenericDatumReader::builder(Trade::schema())
        .reader_schema(&newer)
        .build()
        .unwrap()
        .read_value(&mut &ours[..])
        .unwrap();
    assert_eq!(field(&read, "liquidation"), &Value::Boolean(false));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(Trade::from_avro(&[0xff, 0xff, 0xff]).is_err());
    let mut bytes = sample_trade().to_avro().unwrap();
    bytes.push(0);
    assert!(matches!(Trade::from_avro(&bytes), Err(AvroError::Trailing { .. })));
}

#[test]
fn shortest_form_decimals_from_other_writers_decode() {
    // fastavro and the Java library write the shortest two's-complement bytes.
    let t = sample_trade();
    let mut value = apache_avro::to_value(&t).unwrap().resolve(Trade::schema()).unwrap();
    if let Value::Record(fields) = &mut value {
        for (name, v) in fields.iter_mut() {
            match name.as_str() {
                // 0.00000001 = 10^10 units: 5 bytes.
                "size" => *v = Value::Decimal(apache_avro::Decimal::from(vec![0x02, 0x54, 0x0b, 0xe4, 0x00])),
                // -1 unit: one byte.
                "price" => *v = Value::Decimal(apache_avro::Decimal::from(vec![0xff])),
                _ => {}
            }
        }
    }
    // apache-avro's own validation would refuse the short form it cannot resolve either.
    let writer =
        apache_avro::writer::datum::GenericDatumWriter::builder(Trade::schema()).validate(false).build().unwrap();
    let bytes = writer.write_value_to_vec(value).unwrap();
    assert!(bytes.len() < sample_trade().to_avro().unwrap().len(), "the datum really is shorter");
    let expected = Trade { price: Decimal::from_units(-1), size: dec("0.00000001"), ..t };
    assert_eq!(Trade::from_avro(&bytes).unwrap(), expected);
    assert_eq!(Trade::from_avro_with_writer(&bytes, Trade::schema()).unwrap(), expected);
}
