//! The real `tw-depth.wasm` in the host VM with the real registry: OKX contracts become base
//! units, a crossed snapshot and a repeated level go to quarantine with their reasons.

mod common;

use common::{config, module, record, setup, NOW_MS};
use tickwatch_model::{wire, AvroRecord, BookUpdate, BookUpdateKind, PriceLevel, QuarantineRecord, RawBookUpdate};
use tickwatch_transform_host::{BatchResult, TransformVm};

fn lv(p: &str, s: &str) -> PriceLevel {
    PriceLevel { price: p.parse().unwrap(), size: s.parse().unwrap() }
}

fn snapshot(bids: Vec<PriceLevel>, asks: Vec<PriceLevel>, seq: i64) -> RawBookUpdate {
    RawBookUpdate {
        venue: "okx".into(),
        market: "swap".into(),
        symbol: "BTC-USDT-SWAP".into(),
        update_kind: BookUpdateKind::Snapshot,
        first_update_id: None,
        last_update_id: seq,
        prev_update_id: Some(-1),
        checksum: None,
        bids,
        asks,
        event_time_us: NOW_MS * 1000 - 2_000,
        receive_time_us: NOW_MS * 1000,
    }
}

#[test]
fn books_are_normalized_and_broken_ones_quarantined() {
    let s = setup("raw.depth", RawBookUpdate::SCHEMA_JSON);
    let (engine, module) = module("tw-depth");
    let cfg = config("tw-depth", "raw.depth", &["depth", "raw.depth.quarantine"], &s.prefix);
    let mut vm = TransformVm::start(engine, module, cfg, s.lookup.clone()).unwrap();
    let frame = |r: &RawBookUpdate| wire::frame(s.raw_id, &r.to_avro().unwrap());
    let rec = |offset, r: &RawBookUpdate| record("raw.depth", b"BTC-USDT-SWAP", offset, frame(r));
    let batch = vec![
        rec(1, &snapshot(vec![lv("29123.4", "12"), lv("29123.3", "1")], vec![lv("29123.5", "3")], 100)),
        rec(2, &snapshot(vec![lv("29124", "1")], vec![lv("29123.5", "3")], 101)),
        rec(3, &snapshot(vec![lv("29123.4", "1"), lv("29123.40", "2")], vec![], 102)),
    ];
    let BatchResult::Done(out) = vm.process(batch) else { panic!("trapped") };
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].output, 0);
    let book = BookUpdate::from_avro(wire::unframe(out[0].view().value.unwrap()).unwrap().1).unwrap();
    assert_eq!(book.instrument, "BTC-USDT-PERP");
    assert_eq!(book.bids, vec![lv("29123.4", "0.12"), lv("29123.3", "0.01")]);
    assert_eq!(book.asks, vec![lv("29123.5", "0.03")]);
    assert_eq!((book.last_update_id, book.source_lag_ms), (100, 2));
    let reasons: Vec<String> = out[1..]
        .iter()
        .map(|o| {
            assert_eq!(o.output, 1);
            QuarantineRecord::from_avro(wire::unframe(o.view().value.unwrap()).unwrap().1).unwrap().reason
        })
        .collect();
    assert_eq!(reasons, vec!["crossed_book", "duplicate_key"]);
}
