//! Bars against an independent computation: random trades arriving shuffled within the
//! allowed lateness give, to the last decimal, the bars an exact big-integer oracle computes
//! from the same trades; late trades correct their bars with higher versions or, beyond the
//! correction horizon, come out as late; repeats are dropped; quiet instruments still close.

use num_bigint::BigInt;
use std::collections::BTreeMap;
use tickwatch_model::{Decimal, InstrumentKind, Kline, TakerSide, Trade};
use tickwatch_sink_windows::{KlineBuilder, Output, WindowConfig};

const T0: i64 = 1_764_000_000_000_000; // a minute boundary, µs

fn trade(instrument: &str, id: &str, event_us: i64, price: &str, size: &str, buy: bool) -> Trade {
    Trade {
        venue: "binance".into(),
        instrument: instrument.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: instrument.replace('-', ""),
        trade_id: id.into(),
        price: price.parse().unwrap(),
        size: size.parse().unwrap(),
        taker_side: if buy { TakerSide::Buy } else { TakerSide::Sell },
        event_time_us: event_us,
        receive_time_us: event_us + 10_000,
        source_lag_ms: 10,
        sequence: None,
    }
}

fn bars(out: &[Output]) -> Vec<&Kline> {
    out.iter().filter_map(|o| if let Output::Bar(k) = o { Some(k) } else { None }).collect()
}

/// The oracle: group by window, order by (event time, numeric id), sum with big integers.
fn oracle(trades: &[Trade], interval_us: i64) -> BTreeMap<(String, i64), Vec<String>> {
    let mut groups: BTreeMap<(String, i64), Vec<&Trade>> = BTreeMap::new();
    for t in trades {
        let open = t.event_time_us.div_euclid(interval_us) * interval_us;
        groups.entry((t.instrument.clone(), open)).or_default().push(t);
    }
    let big = |d: Decimal| BigInt::from(d.units());
    let one = BigInt::from(10u64).pow(18);
    let dec = |units: BigInt| Decimal::from_units(i128::try_from(units).unwrap()).to_string();
    groups
        .into_iter()
        .map(|(k, mut ts)| {
            ts.sort_by_key(|t| (t.event_time_us, t.trade_id.parse::<u64>().unwrap()));
            let volume: BigInt = ts.iter().map(|t| big(t.size)).sum();
            let quote: BigInt = ts.iter().map(|t| big(t.price) * big(t.size)).sum();
            let buys = ts.iter().filter(|t| t.taker_side == TakerSide::Buy);
            let buy_volume: BigInt = buys.clone().map(|t| big(t.size)).sum();
            let buy_quote: BigInt = buys.map(|t| big(t.price) * big(t.size)).sum();
            let fields = vec![
                ts[0].price.to_string(),
                ts.iter().map(|t| t.price).max().unwrap().to_string(),
                ts.iter().map(|t| t.price).min().unwrap().to_string(),
                ts.last().unwrap().price.to_string(),
                dec(volume.clone()),
                dec(&quote / &one),
                dec(&quote / &volume),
                ts.len().to_string(),
                dec(buy_volume),
                dec(&buy_quote / &one),
                ts[0].trade_id.clone(),
                ts.last().unwrap().trade_id.clone(),
            ];
            (k, fields)
        })
        .collect()
}

fn fields(k: &Kline) -> Vec<String> {
    vec![
        k.open.to_string(),
        k.high.to_string(),
        k.low.to_string(),
        k.close.to_string(),
        k.volume.to_string(),
        k.quote_volume.to_string(),
        k.vwap.to_string(),
        k.trade_count.to_string(),
        k.taker_buy_volume.to_string(),
        k.taker_buy_quote_volume.to_string(),
        k.first_trade_id.clone(),
        k.last_trade_id.clone(),
    ]
}

#[test]
fn shuffled_arrival_within_the_lateness_gives_the_oracles_bars() {
    check_against_oracle(2_000_000, true);
}

#[test]
fn later_arrivals_are_corrections_whose_last_versions_give_the_oracles_bars() {
    // Up to three times the lateness: many bars are emitted and then corrected, the 5s and
    // 1m ones rolled up from corrected 1s ones or corrected directly.
    check_against_oracle(6_000_000, false);
}

/// Random trades arriving up to `max_delay_us` after their event time, 20 seeds: the last
/// version of every bar equals the oracle's bar; with `first_only`, no bar is ever corrected.
fn check_against_oracle(max_delay_us: i64, first_only: bool) {
    for seed in 1..=20u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let cfg = WindowConfig { allowed_lateness_ms: 2_000, ..WindowConfig::default() };
        let mut trades = Vec::new();
        let mut t = T0;
        for i in 0..3_000u64 {
            t += rng.i64(0..40_000); // same-µs trades happen: ordered by id
            let instrument = ["BTC-USDT", "ETH-USDT"][rng.usize(0..2)];
            // Up to 8 and 9 decimal places: products beyond 18 places stay exact.
            let price = format!("{}.{:08}", 100 + rng.u32(0..5), rng.u32(0..100_000_000));
            let size = format!("{}.{:09}", rng.u32(0..3), rng.u32(1..1_000_000_000));
            trades.push(trade(instrument, &(1_000 + i).to_string(), t, &price, &size, rng.bool()));
        }
        // Arrival: each trade delayed by less than the lateness, then sorted by arrival.
        let mut arrivals: Vec<(i64, Trade)> =
            trades.iter().map(|t| (t.event_time_us + rng.i64(0..max_delay_us), t.clone())).collect();
        arrivals.sort_by_key(|(a, _)| *a);
        let mut b = KlineBuilder::new(&cfg).unwrap();
        let mut out = Vec::new();
        for (arrive, t) in arrivals {
            b.on_trade(&t, 0, arrive, &mut out);
        }
        b.finish(t + 10_000_000, &mut out);
        assert!(out.iter().all(|o| matches!(o, Output::Bar(_))), "seed {seed}: a late trade");
        let corrected = bars(&out).iter().any(|k| k.version > 1);
        assert_eq!(corrected, !first_only, "seed {seed}: corrections");
        for interval in b.intervals().to_vec() {
            let expected = oracle(&trades, interval.micros);
            // The last version of each bar.
            let mut last: BTreeMap<(String, i64), &Kline> = BTreeMap::new();
            for k in bars(&out).into_iter().filter(|k| k.interval == interval.name) {
                let key = (k.instrument.clone(), k.open_time_us);
                if last.get(&key).is_none_or(|old| old.version < k.version) {
                    last.insert(key, k);
                }
            }
            let got: BTreeMap<(String, i64), Vec<String>> = last.into_iter().map(|(key, k)| (key, fields(k))).collect();
            assert_eq!(got.len(), expected.len(), "seed {seed} {}", interval.name);
            for (key, want) in &expected {
                assert_eq!(&got[key], want, "seed {seed} {} {key:?}", interval.name);
            }
        }
    }
}

#[test]
fn late_trades_correct_their_bar_or_are_late_and_repeats_are_dropped() {
    let cfg = WindowConfig {
        intervals: vec!["1s".into()],
        allowed_lateness_ms: 1_000,
        correction_horizon_ms: 5_000,
        idle_after_ms: 3_000,
        ..WindowConfig::default()
    };
    let mut b = KlineBuilder::new(&cfg).unwrap();
    let mut out = Vec::new();
    b.on_trade(&trade("BTC-USDT", "1", T0 + 100_000, "100", "1", true), 0, T0, &mut out);
    b.on_trade(&trade("BTC-USDT", "2", T0 + 900_000, "101", "1", false), 0, T0, &mut out);
    assert!(out.is_empty(), "the window is open");
    // Event time 2.1 s: watermark 1.1 s closes [0, 1 s).
    b.on_trade(&trade("BTC-USDT", "3", T0 + 2_100_000, "102", "2", true), 0, T0, &mut out);
    let first = bars(&out)[0].clone();
    assert_eq!((first.version, first.trade_count, first.close.to_string()), (1, 2, "101".into()));
    assert_eq!(first.vwap.to_string(), "100.5");
    // A trade of [0, 1 s) after it closed: within the horizon, the bar comes again, version 2.
    out.clear();
    b.on_trade(&trade("BTC-USDT", "4", T0 + 950_000, "99", "2", true), 0, T0, &mut out);
    let second = bars(&out)[0];
    assert_eq!(
        (second.version, second.trade_count, second.low.to_string(), second.close.to_string()),
        (2, 3, "99".into(), "99".into())
    );
    assert_eq!(second.quote_volume.to_string(), "399");
    // A repeat of trade 4: dropped.
    out.clear();
    b.on_trade(&trade("BTC-USDT", "4", T0 + 950_000, "99", "2", true), 0, T0, &mut out);
    assert!(out.is_empty() && b.stats.duplicates == 1);
    // Event time 10 s (arriving live, at 10 s) moves the watermark to 9 s: a trade at 0.5 s
    // is beyond the 5 s horizon.
    b.on_trade(&trade("BTC-USDT", "5", T0 + 10_000_000, "103", "1", true), 0, T0 + 10_000_000, &mut out);
    out.clear();
    b.on_trade(&trade("BTC-USDT", "6", T0 + 500_000, "98", "1", true), 0, T0 + 10_000_000, &mut out);
    assert!(
        matches!(&out[..], [Output::Late { trade, watermark_us }] if trade.trade_id == "6" && *watermark_us == T0 + 9_000_000)
    );
    // Quiet: after the idle time the event clock moves on by the quiet time and closes the
    // window of trade 5.
    out.clear();
    b.tick(T0 + 12_000_000, true, &mut out);
    assert!(out.is_empty(), "quiet for 2 s, not yet idle");
    b.tick(T0 + 13_500_000, true, &mut out);
    let closed = bars(&out);
    assert_eq!(closed.len(), 1);
    assert_eq!((closed[0].open_time_us, closed[0].close.to_string()), (T0 + 10_000_000, "103".into()));
    assert_eq!(b.stats, tickwatch_sink_windows::BuilderStats { trades: 7, duplicates: 1, late: 1, corrections: 1 });
}

#[test]
fn the_offset_to_commit_rebuilds_whole_windows_of_interleaved_instruments() {
    let cfg = WindowConfig {
        intervals: vec!["1s".into()],
        allowed_lateness_ms: 0,
        correction_horizon_ms: 1_000,
        idle_after_ms: 60_000,
        ..WindowConfig::default()
    };
    let mut b = KlineBuilder::new(&cfg).unwrap();
    let mut out = Vec::new();
    let ms = |n: i64| T0 + n * 1_000;
    b.on_trade(&trade("A", "1", ms(100), "1", "1", true), 0, T0, &mut out);
    b.on_trade(&trade("B", "1", ms(100), "1", "1", true), 1, T0, &mut out);
    b.on_trade(&trade("A", "2", ms(500), "1", "1", true), 2, T0, &mut out);
    assert_eq!(b.needed_offset(), Some(0));
    // A moves to 5 s: its [0, 1 s) window is emitted and, beyond the 1 s horizon, dropped.
    b.on_trade(&trade("A", "3", ms(5_000), "1", "1", true), 3, T0, &mut out);
    assert_eq!(bars(&out).len(), 1);
    b.on_trade(&trade("B", "2", ms(900), "1", "1", true), 4, T0, &mut out);
    // B's open window needs offset 1, but replaying from 1 would rebuild A's dropped window
    // from half its trades: the commit goes back to 0.
    assert_eq!(b.needed_offset(), Some(0));
    // B moves on too: its dropped window held offsets 1 and 4, and A's kept one starts at 3,
    // so 0 is still the offset that rebuilds only whole windows.
    b.on_trade(&trade("B", "3", ms(7_000), "1", "1", true), 5, T0, &mut out);
    assert_eq!(b.needed_offset(), Some(0));
    // A moves to 9 s: what is kept starts at 5 and no dropped window reaches past it.
    b.on_trade(&trade("A", "4", ms(9_000), "1", "1", true), 6, T0, &mut out);
    assert_eq!(b.needed_offset(), Some(5));
}
