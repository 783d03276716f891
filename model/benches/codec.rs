//! Avro codec throughput: tickwatch's direct codec against `apache-avro`'s serde path (the
//! baseline), on the same records in the same run. `cargo bench -p tickwatch-model`.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tickwatch_model::*;

fn trade(i: u64) -> Trade {
    Trade {
        venue: "binance".into(),
        instrument: "BTC-USDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: "BTCUSDT".into(),
        trade_id: format!("{}", 3_000_000_000 + i),
        price: Decimal::from_units(43_250_120_000_000_000_000_000 + i as i128 * 10_000_000_000_000_000),
        size: "0.00123".parse().unwrap(),
        taker_side: TakerSide::Buy,
        event_time_us: 1_700_000_000_000_000 + i as i64,
        receive_time_us: 1_700_000_000_001_000 + i as i64,
        source_lag_ms: 1,
        sequence: Some(i as i64),
    }
}

/// Records per second of `f` over `n` records, best of 3 runs.
fn rate(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for i in 0..n {
            f(i);
        }
        best = best.min(start.elapsed());
    }
    n as f64 / best.as_secs_f64()
}

fn row(what: &str, ours: f64, baseline: f64) {
    println!(
        "{what:<28} {:>12.0} rec/s   apache-avro serde {:>12.0} rec/s   ratio {:>5.1}x",
        ours,
        baseline,
        ours / baseline
    );
}

fn main() {
    let n = 200_000;
    let trades: Vec<Trade> = (0..1024).map(trade).collect();
    let encoded: Vec<Vec<u8>> = trades.iter().map(|t| t.to_avro().unwrap()).collect();
    let writer = GenericDatumWriter::builder(Trade::schema()).human_readable(false).build().unwrap();
    let reader = GenericDatumReader::builder(Trade::schema()).human_readable(false).build().unwrap();

    let mut buf = Vec::with_capacity(256);
    let enc = rate(n, |i| {
        buf.clear();
        trades[i % 1024].write_avro(&mut buf).unwrap();
        black_box(&buf);
    });
    let enc_base = rate(n, |i| {
        buf.clear();
        writer.write_ser(&mut buf, &trades[i % 1024]).unwrap();
        black_box(&buf);
    });
    let dec = rate(n, |i| {
        black_box(Trade::from_avro(&encoded[i % 1024]).unwrap());
    });
    let dec_base = rate(n, |i| {
        black_box(reader.read_deser::<Trade>(&mut &encoded[i % 1024][..]).unwrap());
    });
    println!("Trade, {} bytes per datum, one core:", encoded[0].len());
    row("encode", enc, enc_base);
    row("decode", dec, dec_base);
}
