//! Trades through the transform host (the real `tw-trades.wasm` on wasmtime) against the
//! same normalizer called natively, in the same run. `make transforms && cargo bench -p
//! tickwatch-transform-host`. Schema lookups are answered from memory here: the module caches
//! them after the first record, so the registry is not on the measured path.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwatch_model::{wire, AvroRecord, QuarantineRecord, RawTrade, TakerSide, Trade};
use tickwatch_transform_core::route::{Input, Routed, Router};
use tickwatch_transform_core::trades::TradeNormalizer;
use tickwatch_transform_core::{ListingBook, RuleConfig};
use tickwatch_transform_host::encoding::Payload;
use tickwatch_transform_host::{compile, BatchResult, InRecord, SchemaLookup, TransformVm, VmConfig};

const RAW_ID: i32 = 1;
const NOW_MS: i64 = 1_634_036_400_000;

struct Fixed;

impl SchemaLookup for Fixed {
    fn schema_by_id(&self, id: i32) -> Result<String, String> {
        match id {
            RAW_ID => Ok(RawTrade::SCHEMA_JSON.into()),
            2 => Ok(Trade::SCHEMA_JSON.into()),
            3 => Ok(QuarantineRecord::SCHEMA_JSON.into()),
            _ => Err("unknown".into()),
        }
    }
    fn subject_schema(&self, _: &str, _: i32) -> Result<(i32, i32, String), String> {
        Err("not needed".into())
    }
    fn create(&self, subject: &str, _: &str) -> Result<i32, String> {
        Ok(if subject.ends_with("quarantine-value") { 3 } else { 2 })
    }
}

fn trade(i: usize) -> Vec<u8> {
    let t = RawTrade {
        venue: "binance".into(),
        market: "spot".into(),
        symbol: ["NKNUSDT", "LRCBTC", "BLZETH"][i % 3].into(),
        trade_id: format!("{}", 10_000_000 + i),
        price: format!("0.{}", 3000 + i % 13).parse().unwrap(),
        size: format!("{}.25", 1 + i % 1000).parse().unwrap(),
        taker_side: TakerSide::Buy,
        event_time_us: NOW_MS * 1000 - 1_000,
        receive_time_us: NOW_MS * 1000,
        sequence: Some(i as i64),
    };
    wire::frame(RAW_ID as u32, &t.to_avro().unwrap())
}

fn best_of_5(n: usize, mut f: impl FnMut()) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed());
    }
    n as f64 / best.as_secs_f64()
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/wasm32-wasip1/wasm/tw-trades.wasm");
    let Ok(wasm) = std::fs::read(path) else {
        eprintln!("{path} is missing: run `make transforms` first");
        return;
    };
    let n = 300_000;
    let batch = 1_000;
    let values: Vec<Vec<u8>> = (0..n).map(trade).collect();

    let mut router = Router::new(TradeNormalizer::new(ListingBook::baked(), RuleConfig::default()), "raw.trades", 2, 3);
    let mut lookup = |id: u32| Fixed.schema_by_id(id as i32);
    let native = best_of_5(n, || {
        for v in &values {
            let input = Input { key: None, value: Some(v), broker_time_ms: NOW_MS, source: None };
            let out = router.route(&input, &mut lookup);
            assert!(matches!(out, Routed::Clean { .. }));
            black_box(out);
        }
    });

    let (engine, module) = compile(&wasm).unwrap();
    let cfg = VmConfig {
        name: "tw-trades".into(),
        input_topic: "raw.trades".into(),
        output_topics: vec!["trades".into(), "raw.trades.quarantine".into()],
        env: vec![],
        memory_limit: 32 << 20,
        record_time_limit: Duration::from_secs(1),
    };
    let mut vm = TransformVm::start(&engine, &module, cfg, Arc::new(Fixed)).unwrap();
    let records: Vec<InRecord> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            // The headers a record has in the pipeline: the ingestor's dedup key and the
            // runner's source position.
            let symbol = ["NKNUSDT", "LRCBTC", "BLZETH"][i % 3];
            let headers = vec![
                (b"dedup_key".to_vec(), Some(format!("binance|{symbol}|trades|{}", 10_000_000 + i).into_bytes())),
                (b"tickwatch-source".to_vec(), Some(format!("raw.trades/0/{i}").into_bytes())),
            ];
            let payload = Payload { key: Some(symbol.as_bytes().to_vec()), value: Some(v.clone()), headers };
            InRecord::new(&payload, NOW_MS, i as i64)
        })
        .collect();
    let hosted = best_of_5(n, || {
        for chunk in records.chunks(batch) {
            match vm.process(chunk.to_vec()) {
                BatchResult::Done(out) => {
                    assert_eq!(out.len(), chunk.len());
                    assert!(out.iter().all(|o| o.output == 0));
                    black_box(out);
                }
                other => panic!("{other:?}"),
            }
        }
    });
    println!("raw.trades -> trades, {n} records (key, value, two headers), batches of {batch}, one core:");
    println!("  native normalizer     {native:>12.0} records/s");
    println!("  tw-trades.wasm (host) {hosted:>12.0} records/s   ({:.2} of native)", hosted / native);
}
