//! The DEX normalizer on logs built from the worked examples' on-chain values (the real
//! logs themselves run through `tw-dex.wasm` in `transforms/host/tests/vm_dex.rs`).

use super::log::{V2_SWAP, V2_SYNC, V3_SWAP};
use super::*;
use crate::route::{Input, Routed, Router};
use num_bigint::BigInt;
use tickwatch_model::{wire, AvroRecord};

const NOW_MS: i64 = 1_714_000_000_000;
const USDC_WETH: &str = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640";
const PEPE_WETH: &str = "0xa43fe16908251ee70ef74718545e4fe6c5ccec9f";
const WHO: &str = "0x000000000000000000000000ef1c6e67703c7bd7107eed8303fbe6ec2554bf6b";

/// 32-byte two's-complement words of decimal integers.
fn words(values: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        let n: BigInt = v.parse().unwrap();
        let bytes = n.to_signed_bytes_be();
        let fill = if n.sign() == num_bigint::Sign::Minus { 0xff } else { 0 };
        out.extend(std::iter::repeat_n(fill, 32 - bytes.len()));
        out.extend(bytes);
    }
    out
}

fn log(address: &str, topics: &[&str], data: Vec<u8>, tx: &str, log_index: i64) -> RawDexLog {
    RawDexLog {
        chain: "ethereum".into(),
        chain_id: 1,
        protocol: "uniswap_v3".into(),
        address: address.to_uppercase().replace("0X", "0x"),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        data,
        block_number: 19_766_985,
        block_hash: "0xb1".into(),
        parent_hash: "0xb0".into(),
        tx_hash: tx.into(),
        log_index,
        removed: false,
        block_time_us: NOW_MS * 1000 - 12_000_000,
        receive_time_us: NOW_MS * 1000 - 11_000_000,
        status: SwapStatus::Pending,
        version: 0,
    }
}

fn v3_swap(sqrt_price: &str) -> RawDexLog {
    let data = words(&["-3", "963265801", sqrt_price, "9843516503795384297", "195877"]);
    log(USDC_WETH, &[V3_SWAP, WHO, WHO], data, "0x26", 0x24)
}

fn v2_sync(tx: &str) -> RawDexLog {
    let data = words(&["4743042891702314155219862610723", "648233828172957463925"]);
    log(PEPE_WETH, &[V2_SYNC], data, tx, 0x2f)
}

fn v2_swap(tx: &str) -> RawDexLog {
    let data = words(&["0", "750000000000000000", "5477527264701082519211446407", "0"]);
    log(PEPE_WETH, &[V2_SWAP, WHO, WHO], data, tx, 0x30)
}

fn normalizer() -> DexNormalizer {
    DexNormalizer::new(ListingBook::baked(), RuleConfig::default())
}

/// What the router does: absorb, then normalize.
fn run(n: &mut DexNormalizer, raw: &RawDexLog) -> Result<Option<DexSwap>, Rejection> {
    if n.absorb(raw, NOW_MS)? {
        return Ok(None);
    }
    n.normalize(raw, NOW_MS).map(Some)
}

#[test]
fn v3_swap_is_priced_from_sqrt_price() {
    let s = run(&mut normalizer(), &v3_swap("1419330143817945704579005219627373")).unwrap().unwrap();
    assert_eq!((s.instrument.as_str(), s.protocol.as_str()), ("WETH-USDC", "uniswap_v3"));
    assert_eq!(s.pool, USDC_WETH);
    assert_eq!(s.price.to_string(), "3115.963161695143604064");
    assert_eq!(s.base_size.to_string(), "0.000000000963265801");
    assert_eq!((s.amount0_raw.as_str(), s.amount1_raw.as_str()), ("-3", "963265801"));
    assert_eq!((s.decimals0, s.decimals1, s.tick), (6, 18, Some(195_877)));
    assert_eq!(s.sqrt_price_x96.as_deref(), Some("1419330143817945704579005219627373"));
    assert_eq!(s.liquidity.as_deref(), Some("9843516503795384297"));
    assert_eq!((s.reserve0_raw, s.sender.as_str()), (None, "0xef1c6e67703c7bd7107eed8303fbe6ec2554bf6b"));
    assert_eq!((s.status, s.version, s.source_lag_ms), (SwapStatus::Pending, 0, 1_000));
}

#[test]
fn v2_sync_prices_the_swap_after_it() {
    let mut n = normalizer();
    assert_eq!(run(&mut n, &v2_sync("0x6d")).unwrap(), None);
    let s = run(&mut n, &v2_swap("0x6d")).unwrap().unwrap();
    assert_eq!(s.instrument, "WETH-PEPE");
    assert_eq!(s.price.to_string(), "7316870372.332384374968599944");
    assert_eq!(s.reserve0_raw.as_deref(), Some("4743042891702314155219862610723"));
    assert_eq!(s.reserve1_raw.as_deref(), Some("648233828172957463925"));
    assert_eq!(
        (s.amount0_raw.as_str(), s.amount1_raw.as_str()),
        ("-5477527264701082519211446407", "750000000000000000")
    );
    assert_eq!(s.base_size.to_string(), "0.75");
    // The Sync of another transaction does not price it: the execution price does, reserves null.
    let other = run(&mut n, &v2_swap("0x99")).unwrap().unwrap();
    assert_eq!(other.price.to_string(), "7303369686.268110025615261876");
    assert_eq!((other.reserve0_raw, other.reserve1_raw), (None, None));
}

#[test]
fn each_dex_rule_has_its_reason() {
    let mut n = normalizer();
    let reason = |n: &mut DexNormalizer, r: RawDexLog| run(n, &r).unwrap_err().reason;
    let mut unknown = v3_swap("1419330143817945704579005219627373");
    unknown.address = "0x7316f8dd242974f0fd7b16dbcc68920b96bc4db1".into();
    assert_eq!(reason(&mut n, unknown), QuarantineReason::UnknownInstrument);
    let mut wrong_event = v3_swap("1");
    wrong_event.topics[0] = V2_SWAP.into();
    assert_eq!(reason(&mut n, wrong_event), QuarantineReason::UnknownEvent);
    let mut short = v3_swap("1");
    short.data.truncate(64);
    assert_eq!(reason(&mut n, short), QuarantineReason::Undecodable);
    assert_eq!(reason(&mut n, v3_swap("0")), QuarantineReason::PriceNotPositive);
    let mut no_base = v3_swap("1419330143817945704579005219627373");
    no_base.data[32..64].fill(0);
    assert_eq!(reason(&mut n, no_base), QuarantineReason::SizeNotPositive);
    let mut future = v3_swap("1419330143817945704579005219627373");
    future.block_time_us = (NOW_MS + 60_000) * 1000;
    assert_eq!(reason(&mut n, future), QuarantineReason::FutureTimestamp);
    // A good price, then one 4× away (sqrt price doubled): a jump.
    assert!(run(&mut n, &v3_swap("1419330143817945704579005219627373")).is_ok());
    assert_eq!(reason(&mut n, v3_swap("2838660287635891409158010439254746")), QuarantineReason::PriceJump);
}

#[test]
fn a_retraction_always_passes_and_keeps_its_version() {
    let mut n = normalizer();
    assert!(run(&mut n, &v3_swap("1419330143817945704579005219627373")).is_ok());
    let mut gone = v3_swap("2838660287635891409158010439254746");
    gone.removed = true;
    gone.version = 3;
    gone.block_time_us = (NOW_MS - 3 * 86_400_000) * 1000;
    let s = run(&mut n, &gone).unwrap().unwrap();
    assert_eq!((s.status, s.version), (SwapStatus::Retracted, 3));
    let mut confirmed = v3_swap("1419330143817945704579005219627373");
    confirmed.status = SwapStatus::Confirmed;
    confirmed.version = 1;
    assert_eq!(run(&mut n, &confirmed).unwrap().unwrap().status, SwapStatus::Confirmed);
}

/// The raw schema before `status` and `version` existed.
fn first_schema() -> String {
    let mut json: serde_json::Value = serde_json::from_str(RawDexLog::SCHEMA_JSON).unwrap();
    let fields = json["fields"].as_array_mut().unwrap();
    fields.retain(|f| f["name"] != "status" && f["name"] != "version");
    json.to_string()
}

#[test]
fn a_log_written_with_the_first_schema_decodes_as_pending() {
    let old = apache_avro::Schema::parse_str(&first_schema()).unwrap();
    let raw = v3_swap("1419330143817945704579005219627373");
    let mut value = apache_avro::to_value(&raw).unwrap().resolve(RawDexLog::schema()).unwrap();
    if let apache_avro::types::Value::Record(f) = &mut value {
        f.truncate(f.len() - 2);
    }
    let datum = apache_avro::writer::datum::GenericDatumWriter::builder(&old)
        .build()
        .unwrap()
        .write_value_to_vec(value)
        .unwrap();
    let bytes = wire::frame(5, &datum);
    let mut router = Router::new(normalizer(), "raw.dex", 6, 7);
    let input = Input { key: Some(b"ethereum:pool"), value: Some(&bytes), broker_time_ms: NOW_MS, source: None };
    let mut lookup = |_| Ok(first_schema());
    match router.route(&input, &mut lookup) {
        Routed::Clean { key, value } => {
            assert_eq!(key, b"WETH-USDC");
            let s = DexSwap::from_avro(wire::unframe(&value).unwrap().1).unwrap();
            assert_eq!(
                (s.status, s.version, s.price.to_string()),
                (SwapStatus::Pending, 0, "3115.963161695143604064".into())
            );
        }
        other => panic!("{other:?}"),
    }
}
