//! The real `tw-trades.wasm` (built by `make transforms`) in the host VM, with the real
//! Schema Registry behind its schema-registry ABI: exact normalized records on output 0,
//! quarantine records with reason and source position on output 1, and the limits.

mod common;

use common::{config, module, record, setup, NOW_MS};
use tickwatch_model::{wire, AvroRecord, QuarantineRecord, RawTrade, TakerSide, Trade};
use tickwatch_transform_host::{compile, BatchResult, InRecord, TransformVm, VmConfig};

fn raw(symbol: &str, price: &str, id: &str) -> RawTrade {
    RawTrade {
        venue: "binance".into(),
        market: "spot".into(),
        symbol: symbol.into(),
        trade_id: id.into(),
        price: price.parse().unwrap(),
        size: "150.5".parse().unwrap(),
        taker_side: TakerSide::Sell,
        event_time_us: NOW_MS * 1000 - 3_000,
        receive_time_us: NOW_MS * 1000,
        sequence: None,
    }
}

fn trades_config(prefix: &str) -> VmConfig {
    config("tw-trades", "raw.trades", &["trades", "raw.trades.quarantine"], prefix)
}

fn rec(offset: i64, value: Vec<u8>) -> InRecord {
    record("raw.trades", b"NKNUSDT", offset, value)
}

#[test]
fn trades_are_normalized_and_bad_ones_quarantined() {
    let s = setup("raw.trades", RawTrade::SCHEMA_JSON);
    let (engine, module) = module("tw-trades");
    let mut vm = TransformVm::start(engine, module, trades_config(&s.prefix), s.lookup.clone()).unwrap();
    let frame = |r: &RawTrade| wire::frame(s.raw_id, &r.to_avro().unwrap());
    let batch = vec![
        rec(100, frame(&raw("NKNUSDT", "0.3412", "1"))),
        rec(101, frame(&raw("NKNUSDT", "-0.3412", "2"))),
        rec(102, frame(&raw("NOPEUSDT", "1", "3"))),
        rec(103, b"not avro at all".to_vec()),
        rec(104, frame(&raw("NKNUSDT", "0.3413", "5"))),
    ];
    let outputs = match vm.process(batch) {
        BatchResult::Done(o) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(outputs.len(), 5, "one output per input");
    // Waiting with nothing submitted is an answer, not a hang; the VM still works after it.
    let BatchResult::Trapped { message, .. } = vm.wait() else { panic!("nothing was submitted") };
    assert_eq!(message, "no batch was submitted");
    let clean_id = s.lookup.schema_id_of(&format!("{}.trades-value", s.prefix));
    let mut clean = Vec::new();
    let mut reasons = Vec::new();
    for o in &outputs {
        let value = o.view().value.unwrap();
        let (id, datum) = wire::unframe(value).unwrap();
        // Trace context travels; the host's position header does not.
        assert!(o.payload().headers.iter().any(|(k, _)| k == b"traceparent"));
        assert!(!o.payload().headers.iter().any(|(k, _)| k == b"tickwatch-source"));
        match o.output {
            0 => {
                assert_eq!(id, clean_id);
                assert_eq!(o.view().key, Some(&b"NKN-USDT"[..]));
                clean.push(Trade::from_avro(datum).unwrap());
            }
            1 => {
                let q = QuarantineRecord::from_avro(datum).unwrap();
                reasons.push((q.source_offset, q.reason.clone()));
                assert_eq!(q.source_topic, format!("{}.raw.trades", s.prefix));
                assert_eq!(q.source_partition, 0);
                if q.source_offset == 103 {
                    assert_eq!(q.original_value, b"not avro at all");
                }
            }
            other => panic!("output {other}"),
        }
    }
    assert_eq!(clean.len(), 2);
    assert_eq!(clean[0].instrument, "NKN-USDT");
    assert_eq!(clean[0].price.to_string(), "0.3412");
    assert_eq!(clean[0].size.to_string(), "150.5");
    assert_eq!(clean[0].source_lag_ms, 3);
    assert_eq!(clean[1].price.to_string(), "0.3413");
    assert_eq!(
        reasons,
        vec![(101, "price_not_positive".into()), (102, "unknown_instrument".into()), (103, "undecodable".into())]
    );
    // A second batch on the same VM: state (last good price) carries over.
    let next = vm.process(vec![rec(105, frame(&raw("NKNUSDT", "0.9", "6")))]);
    let BatchResult::Done(o) = next else { panic!("{next:?}") };
    let q = QuarantineRecord::from_avro(wire::unframe(o[0].view().value.unwrap()).unwrap().1).unwrap();
    assert_eq!((o[0].output, q.reason.as_str()), (1, "price_jump"));
    drop(vm);
    drop(s.runtime);
}

#[test]
fn a_record_over_its_time_limit_is_reported_with_its_offset() {
    let s = setup("raw.trades", RawTrade::SCHEMA_JSON);
    let (engine, module) = module("tw-trades");
    let mut cfg = trades_config(&s.prefix);
    cfg.record_time_limit = std::time::Duration::ZERO;
    let mut vm = TransformVm::start(engine, module, cfg, s.lookup.clone()).unwrap();
    let bytes = wire::frame(s.raw_id, &raw("NKNUSDT", "0.3412", "1").to_avro().unwrap());
    match vm.process(vec![rec(7, bytes)]) {
        BatchResult::Trapped { offset, message } => {
            assert_eq!(offset, Some(7));
            assert!(message.contains("interrupt"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The VM is finished: it does not spin, it keeps answering with the trap.
    assert!(matches!(vm.process(vec![]), BatchResult::Trapped { .. }));
}

#[test]
fn the_memory_limit_is_enforced_and_bad_modules_are_refused() {
    let s = setup("raw.trades", RawTrade::SCHEMA_JSON);
    let (engine, module) = module("tw-trades");
    let mut cfg = trades_config(&s.prefix);
    cfg.memory_limit = 512 << 10; // below the module's own minimum
    let err = TransformVm::start(engine, module, cfg, s.lookup.clone()).err().expect("refused");
    assert!(format!("{err:?}").contains("memory"), "{err:?}");
    let err = compile(b"\0asm\x01\0\0\0").expect_err("an empty module is no transform");
    assert!(err.to_string().contains("_start"), "{err}");
}
