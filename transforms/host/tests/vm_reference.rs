//! The real `tw-reference.wasm` in the host VM with the real registry: mark, index and
//! funding pass exactly; a negative index price goes to quarantine.

mod common;

use common::{config, module, record, setup, NOW_MS};
use tickwatch_model::{wire, AvroRecord, QuarantineRecord, RawReferencePrice, ReferencePrice};
use tickwatch_transform_host::{BatchResult, TransformVm};

fn raw(mark: &str, index: &str, funding: &str) -> RawReferencePrice {
    RawReferencePrice {
        venue: "bybit".into(),
        market: "linear".into(),
        symbol: "XRPUSDT".into(),
        mark_price: Some(mark.parse().unwrap()),
        index_price: Some(index.parse().unwrap()),
        funding_rate: Some(funding.parse().unwrap()),
        next_funding_time_us: Some(1_733_040_000_000_000),
        event_time_us: NOW_MS * 1000 - 5_000,
        receive_time_us: NOW_MS * 1000,
    }
}

#[test]
fn reference_prices_pass_exactly_and_bad_ones_are_kept() {
    let s = setup("raw.reference", RawReferencePrice::SCHEMA_JSON);
    let (engine, module) = module("tw-reference");
    let cfg = config("tw-reference", "raw.reference", &["reference", "raw.reference.quarantine"], &s.prefix);
    let mut vm = TransformVm::start(engine, module, cfg, s.lookup.clone()).unwrap();
    let rec = |offset, r: &RawReferencePrice| {
        record("raw.reference", b"XRPUSDT", offset, wire::frame(s.raw_id, &r.to_avro().unwrap()))
    };
    let batch = vec![rec(1, &raw("2.4412", "2.4409", "-0.000125")), rec(2, &raw("2.4413", "-2.44", "0.0001"))];
    let BatchResult::Done(out) = vm.process(batch) else { panic!("trapped") };
    let r = ReferencePrice::from_avro(wire::unframe(out[0].view().value.unwrap()).unwrap().1).unwrap();
    assert_eq!((out[0].output, r.instrument.as_str()), (0, "XRP-USDT-PERP"));
    assert_eq!(r.mark_price.unwrap().to_string(), "2.4412");
    assert_eq!(r.funding_rate.unwrap().to_string(), "-0.000125");
    assert_eq!(r.source_lag_ms, 5);
    let q = QuarantineRecord::from_avro(wire::unframe(out[1].view().value.unwrap()).unwrap().1).unwrap();
    assert_eq!((out[1].output, q.reason.as_str(), q.source_offset), (1, "price_not_positive", 2));
}
