//! The real `tw-dex.wasm` in the host VM with the real registry, fed the real mainnet logs of
//! `../shared/fixtures/ethereum`: the prices of the worked examples come out exactly, the V2
//! `Sync` prices its `Swap` without an output of its own, and an unlisted pool is quarantined.

mod common;

use common::{config, module, record, setup, NOW_MS};
use tickwatch_model::{wire, AvroRecord, DexSwap, QuarantineRecord, RawDexLog, SwapStatus};
use tickwatch_testkit::evm::{fixture_log, LogSource};
use tickwatch_testkit::fixtures;
use tickwatch_transform_host::{BatchResult, TransformVm};

/// Mainnet logs as the ingestor would publish them: seen 11.5 s after their block.
fn source(protocol: &str) -> LogSource<'_> {
    LogSource {
        chain: "ethereum",
        chain_id: 1,
        protocol,
        block_time_us: NOW_MS * 1000 - 12_000_000,
        receive_time_us: NOW_MS * 1000 - 11_500_000,
    }
}

#[test]
fn real_swap_logs_are_priced_exactly() {
    let Some(dir) = fixtures() else { return };
    let eth = dir.join("ethereum");
    let v2 = source("uniswap_v2");
    let v3 = source("uniswap_v3");
    let logs = [
        fixture_log(&eth.join("uniswap_v2/log_sync_pair_0xa43fe169.json"), &v2),
        fixture_log(&eth.join("uniswap_v2/log_swap_pair_0xa43fe169.json"), &v2),
        fixture_log(&eth.join("uniswap_v3/log_swap_USDC-WETH-005_pool_0x88e6a0c2_tx_0x26112538.json"), &v3),
        // A real pool that symbols.yaml does not list.
        fixture_log(&eth.join("uniswap_v3/log_swap_pool_0x7316f8dd.json"), &v3),
    ];
    let mut retracted = logs[2].clone();
    retracted.removed = true;
    retracted.version = 1;

    let s = setup("raw.dex", RawDexLog::SCHEMA_JSON);
    let (engine, module) = module("tw-dex");
    let cfg = config("tw-dex", "raw.dex", &["dex.swaps", "raw.dex.quarantine"], &s.prefix);
    let mut vm = TransformVm::start(engine, module, cfg, s.lookup.clone()).unwrap();
    let frame = |r: &RawDexLog| wire::frame(s.raw_id, &r.to_avro().unwrap());
    let key = |r: &RawDexLog| format!("ethereum:{}", r.address).into_bytes();
    let batch: Vec<_> = logs
        .iter()
        .chain([&retracted])
        .enumerate()
        .map(|(i, r)| record("raw.dex", &key(r), 10 + i as i64, frame(r)))
        .collect();
    let BatchResult::Done(out) = vm.process(batch) else { panic!("trapped") };
    assert_eq!(out.len(), 4, "the Sync yields no record; every other log one");

    let clean_id = s.lookup.schema_id_of(&format!("{}.dex.swaps-value", s.prefix));
    let swap = |i: usize| {
        assert_eq!(out[i].output, 0, "output of record {i}");
        let (id, datum) = wire::unframe(out[i].view().value.unwrap()).unwrap();
        assert_eq!(id, clean_id);
        DexSwap::from_avro(datum).unwrap()
    };
    let pepe = swap(0);
    assert_eq!(out[0].view().key, Some(&b"WETH-PEPE"[..]));
    assert_eq!((pepe.instrument.as_str(), pepe.protocol.as_str()), ("WETH-PEPE", "uniswap_v2"));
    assert_eq!(pepe.price.to_string(), "7316870372.332384374968599944");
    assert_eq!(pepe.base_size.to_string(), "0.75");
    assert_eq!(pepe.reserve0_raw.as_deref(), Some("4743042891702314155219862610723"));
    assert_eq!(pepe.amount0_raw, "-5477527264701082519211446407");
    assert_eq!((pepe.block_number, pepe.log_index), (0x104ae90, 0x30));
    assert_eq!(pepe.tx_hash, "0x6d70a0b14e2fe1ba28d6cb910ffc4aa787264dff6c273e20509136461ac587aa");

    let weth = swap(1);
    assert_eq!(weth.instrument, "WETH-USDC");
    assert_eq!(weth.price.to_string(), "3115.963161695143604064");
    assert_eq!((weth.amount0_raw.as_str(), weth.amount1_raw.as_str()), ("-3", "963265801"));
    assert_eq!((weth.tick, weth.liquidity.as_deref()), (Some(195_877), Some("9843516503795384297")));
    assert_eq!((weth.status, weth.version, weth.source_lag_ms), (SwapStatus::Pending, 0, 500));

    assert_eq!(out[2].output, 1);
    let q = QuarantineRecord::from_avro(wire::unframe(out[2].view().value.unwrap()).unwrap().1).unwrap();
    assert_eq!(
        (q.reason.as_str(), q.source_offset, q.venue.as_deref()),
        ("unknown_instrument", 13, Some("uniswap_v3"))
    );
    assert!(q.detail.contains("0x7316f8dd242974f0fd7b16dbcc68920b96bc4db1"), "{}", q.detail);
    assert_eq!(q.original_value, frame(&logs[3]));

    let gone = swap(3);
    assert_eq!((gone.status, gone.version, gone.log_index), (SwapStatus::Retracted, 1, weth.log_index));
    assert_eq!(gone.price, weth.price);
}

#[test]
fn the_symbols_variable_adds_a_pool_at_deploy_time() {
    let Some(dir) = fixtures() else { return };
    let source = source("uniswap_v3");
    let log = fixture_log(&dir.join("ethereum/uniswap_v3/log_swap_pool_0x7316f8dd.json"), &source);
    let s = setup("raw.dex", RawDexLog::SCHEMA_JSON);
    let (engine, module) = module("tw-dex");
    let mut cfg = config("tw-dex", "raw.dex", &["dex.swaps", "raw.dex.quarantine"], &s.prefix);
    // The token's decimals are not in the fixtures; 18 for the test.
    let pool = "{pools: [{chain: ethereum, chain_id: 1, address: '0x7316f8dd242974f0fd7b16dbcc68920b96bc4db1', \
                protocol: uniswap_v3, token0: {symbol: TKN, decimals: 18}, token1: {symbol: WETH, decimals: 18}, base: token0}]}";
    cfg.env = vec![("TW_SYMBOLS".into(), pool.into())];
    let mut vm = TransformVm::start(engine, module, cfg, s.lookup.clone()).unwrap();
    let value = wire::frame(s.raw_id, &log.to_avro().unwrap());
    let BatchResult::Done(out) = vm.process(vec![record("raw.dex", b"ethereum:0x7316", 1, value)]) else { panic!() };
    assert_eq!(out[0].output, 0);
    let swap = DexSwap::from_avro(wire::unframe(out[0].view().value.unwrap()).unwrap().1).unwrap();
    // P_raw of the worked example, 5.006471680629066449…e-8, cut at 18 places.
    assert_eq!((swap.instrument.as_str(), swap.price.to_string()), ("TKN-WETH", "0.000000050064716806".into()));
    assert_eq!((swap.tick, swap.base_size.to_string()), (Some(-168_108), "2780431.904511285232400653".into()));
}

#[test]
fn older_and_newer_writer_schemas_pass_through() {
    let Some(dir) = fixtures() else { return };
    let source = source("uniswap_v3");
    let path = dir.join("ethereum/uniswap_v3/log_swap_USDC-WETH-005_pool_0x88e6a0c2_tx_0x26112538.json");
    let log = fixture_log(&path, &source);
    let s = setup("raw.dex", RawDexLog::SCHEMA_JSON);
    let mut schema: serde_json::Value = serde_json::from_str(RawDexLog::SCHEMA_JSON).unwrap();
    let fields = schema["fields"].as_array_mut().unwrap();
    // The first raw.dex schema had no status and version: a PENDING log at version 0 is the
    // same datum without its last two bytes (enum index 0, long 0).
    fields.retain(|f| f["name"] != "status" && f["name"] != "version");
    let older = schema.to_string();
    // A newer producer adds a field with a default; its datum has one more long at the end.
    let mut schema: serde_json::Value = serde_json::from_str(RawDexLog::SCHEMA_JSON).unwrap();
    let added = serde_json::json!({"name": "gas_used", "type": "long", "default": 0});
    schema["fields"].as_array_mut().unwrap().push(added);
    let newer = schema.to_string();
    let register = |subject: &str, text: &str| {
        s.runtime.block_on(s.lookup.client.register(&format!("{}.{subject}-value", s.prefix), text)).unwrap()
    };
    let (older_id, newer_id) = (register("older", &older), register("newer", &newer));
    let datum = log.to_avro().unwrap();
    assert_eq!(&datum[datum.len() - 2..], &[0, 0]);
    let older_datum = datum[..datum.len() - 2].to_vec();
    let mut newer_datum = datum.clone();
    newer_datum.extend([0x90, 0xc8, 0x02]); // zigzag varint of 21 000

    let (engine, module) = module("tw-dex");
    let cfg = config("tw-dex", "raw.dex", &["dex.swaps", "raw.dex.quarantine"], &s.prefix);
    let mut vm = TransformVm::start(engine, module, cfg, s.lookup.clone()).unwrap();
    let batch = vec![
        record("raw.dex", b"k", 1, wire::frame(older_id, &older_datum)),
        record("raw.dex", b"k", 2, wire::frame(newer_id, &newer_datum)),
        record("raw.dex", b"k", 3, wire::frame(s.raw_id, &datum)),
    ];
    let BatchResult::Done(out) = vm.process(batch) else { panic!("trapped") };
    let swaps: Vec<DexSwap> = out
        .iter()
        .map(|o| {
            assert_eq!(o.output, 0, "every writer version decodes");
            DexSwap::from_avro(wire::unframe(o.view().value.unwrap()).unwrap().1).unwrap()
        })
        .collect();
    assert_eq!(swaps.len(), 3);
    assert!(swaps.iter().all(|w| w == &swaps[0]), "the same log, whatever its writer schema");
    assert_eq!((swaps[0].status, swaps[0].price.to_string()), (SwapStatus::Pending, "3115.963161695143604064".into()));
}
