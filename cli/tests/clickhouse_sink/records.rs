//! The records the tests send: trades, mark and index prices, k-lines, quality minutes.

use rdkafka::producer::FutureRecord;
use std::time::{SystemTime, UNIX_EPOCH};
use tickwatch_model::{
    wire, AvroRecord, Decimal, Kline, KlineVerification, QualityMinute, ReferencePrice, TakerSide, Trade,
};
use tickwatch_runtime::broker::ReliableProducer;
use tickwatch_testkit::market::{okx_btc_perp_prices, okx_spot_trade};

pub const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");

pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// Recent event times: the raw tables drop rows older than 7 days at merges.
pub fn trade(i: u64, base_us: i64) -> Trade {
    let instrument = ["BTC-USDT", "ETH-USDT", "SOL-USDT"][(i % 3) as usize];
    let trade = okx_spot_trade(
        instrument,
        (1_000_000 + i).to_string(),
        // 18 places, so that any rounding on the way would show.
        &format!("{}.{:018}", 100 + i % 7, i * 7_919 % 1_000_000_000_000_000_000),
        &format!("0.{:09}", i * 104_729 % 1_000_000_000 + 1),
        if i.is_multiple_of(2) { TakerSide::Buy } else { TakerSide::Sell },
        base_us + i as i64 * 7_001,
        2_000,
    );
    Trade { sequence: Some(i as i64), ..trade }
}

pub fn reference(i: u64, base_us: i64, mark: bool) -> ReferencePrice {
    let price: Decimal = format!("{}.{:03}", 60_000 + i, i % 1000).parse().unwrap();
    okx_btc_perp_prices(mark.then_some(price), (!mark).then_some(price), base_us + i as i64 * 1_000_000, 5_000)
}

pub fn kline(i: u64, base_us: i64, version: i64) -> Kline {
    let open_time_us = base_us - base_us % 60_000_000 + i as i64 * 60_000_000;
    let d = |s: String| s.parse::<Decimal>().unwrap();
    Kline {
        venue: "okx".into(),
        instrument: "BTC-USDT".into(),
        interval: "1m".into(),
        open_time_us,
        close_time_us: open_time_us + 60_000_000,
        open: d(format!("100.{i}")),
        high: d(format!("101.{i}")),
        low: d(format!("99.{i}")),
        close: d(format!("100.{version}{i}")),
        volume: d(format!("{}.5", 10 + version)),
        quote_volume: d("1005.000000000000000001".into()),
        vwap: d("100.5".into()),
        trade_count: 10 + version,
        taker_buy_volume: d("4".into()),
        taker_buy_quote_volume: d("402".into()),
        first_trade_id: "1".into(),
        last_trade_id: "10".into(),
        version,
        verification: KlineVerification::Unverified,
        emitted_at_us: now_us(),
    }
}

pub fn quality(i: u64, base_us: i64) -> QualityMinute {
    QualityMinute {
        venue: "okx".into(),
        instrument: "BTC-USDT".into(),
        channel: "trades".into(),
        minute_us: base_us - base_us % 60_000_000 + i as i64 * 60_000_000,
        messages: 100 + i as i64,
        gaps: 1,
        lost_messages: Some(2),
        out_of_order: 0,
        duplicates: 0,
        reconnects: 1,
        resyncs: 0,
        quarantined: 0,
        max_silence_ms: 900,
        source_lag_p95_ms: Some(12.5),
    }
}

/// Produce framed values (key, value) to `topic`, waiting for every acknowledgement.
/// Produce `values` pipelined and wait for every acknowledgement. A record the broker refused
/// (Tansu sometimes answers a healthy idempotent producer with a sequence error, which kills
/// it) is sent again through the reliable producer, which replaces a dead producer; order
/// does not matter to these tests (rows are keyed).
pub async fn send(producer: &ReliableProducer, topic: &str, values: &[(String, Vec<u8>)]) {
    for chunk in values.chunks(2_000) {
        let client = producer.client();
        let deliveries: Vec<_> = chunk
            .iter()
            .map(|(key, value)| {
                let record = FutureRecord::to(topic).key(key.as_bytes()).payload(value);
                client.send_result(record).map_err(|(e, _)| e).unwrap()
            })
            .collect();
        let mut refused = Vec::new();
        for (d, (key, value)) in deliveries.into_iter().zip(chunk) {
            if !matches!(d.await, Ok(Ok(_))) {
                refused.push((key, value));
            }
        }
        for (key, value) in refused {
            producer.send(topic, None, key.as_bytes(), Some(value)).await.expect("resent through a new producer");
        }
    }
}

pub fn framed<T: AvroRecord>(id: u32, key: &str, records: &[T]) -> Vec<(String, Vec<u8>)> {
    records.iter().map(|r| (key.to_string(), wire::frame(id, &r.to_avro().unwrap()))).collect()
}
