//! Every panel's query, expanded, on the stack's ClickHouse over the rows of `rows`.

use super::expand::Grafana;
use super::rows::*;
use super::*;

#[tokio::test]
async fn every_panel_query_runs_on_clickhouse_and_shows_the_inserted_rows() {
    let stack = stack();
    let ch = ClickHouse::new(&stack.settings.clickhouse);
    let d = dashboard();
    let name = unique("GRAF");
    let instrument = format!("{name}-USDT");
    let decoy = format!("{name}-DECOY-USDT");
    // Ten whole minutes an hour ago (the tables' TTLs are days).
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let from_ms = (now_ms / 60_000 - 60) * 60_000;
    let to_ms = from_ms + 10 * 60_000;
    let range_minutes = (to_ms - from_ms) as f64 / 60_000.0;
    let us = |ms_after_from: i64| (from_ms + ms_after_from) * 1000;
    let in_range = |ms_after_from: i64| (0..=to_ms - from_ms).contains(&ms_after_from);
    let grafana = |venue: &str, interval: &str| Grafana {
        from_ms,
        to_ms,
        vars: [("venue", venue), ("instrument", instrument.as_str()), ("interval", interval)]
            .map(|(k, v)| (k, v.to_string()))
            .into(),
        database: ch.database(),
    };

    // K-lines: three binance 1m bars in the range (the second corrected by a later version),
    // one before and one after it, a 1s bar, and an okx bar.
    let bar = |venue, interval, at, ohlcv, version| Bar { venue, interval, at, ohlcv, version };
    let bars = [
        bar("binance", "1m", 60, ["64000.1", "64100.25", "63950.37", "64050.75", "12.5"], 1),
        bar("binance", "1m", 120, ["64050.75", "64070", "64010.5", "64020", "3.25"], 1),
        bar("binance", "1m", 300, ["64020", "64200.5", "64000", "64190.125", "7.75"], 1),
        bar("binance", "1m", -180, ["63000", "63100", "62900", "63050", "1"], 1),
        bar("binance", "1m", 720, ["65000", "65100", "64900", "65050", "1"], 1),
        bar("binance", "1s", 61, ["64001", "64002", "64000.5", "64001.5", "0.5"], 1),
        bar("okx", "1m", 180, ["64010", "64020", "64000", "64015", "2"], 1),
        bar("binance", "1m", 120, ["64050.75", "64080", "64005.5", "64030.25", "4.5"], 2),
    ];
    let bar_row = |b: &Bar| {
        let len_s = if b.interval == "1s" { 1 } else { 60 };
        let [open, high, low, close, volume] = b.ohlcv;
        json!({
            "venue": b.venue, "instrument": instrument, "interval": b.interval,
            "open_time": ch_time(us(b.at * 1000)), "close_time": ch_time(us((b.at + len_s) * 1000) - 1),
            "open": open, "high": high, "low": low, "close": close, "volume": volume,
            "quote_volume": "0", "vwap": close, "trade_count": 1, "taker_buy_volume": "0",
            "taker_buy_quote_volume": "0", "first_trade_id": "1", "last_trade_id": "2",
            "version": b.version, "verification": "VERIFIED", "emitted_at": ch_time(us(b.at * 1000) + b.version),
        })
    };
    // The correction goes in a later insert (another part), as the sink would write it.
    let (first, correction) = bars.split_at(bars.len() - 1);
    insert(&ch, "klines", &first.iter().map(bar_row).collect::<Vec<_>>()).await;
    insert(&ch, "klines", &correction.iter().map(bar_row).collect::<Vec<_>>()).await;

    // Signals: spreads of two pairs (one value corrected), one outside the range, one of
    // another instrument, and divergences of two venues.
    let sig =
        |kind, venue, venue_b, decoy, at, value, emitted| Signal { kind, venue, venue_b, decoy, at, value, emitted };
    let signals = [
        sig("spread", "binance", "okx", false, 60_250, 1.5, 1),
        sig("spread", "binance", "bybit", false, 60_250, 3.0, 1),
        sig("spread", "binance", "okx", false, 240_000, -2.0, 1),
        sig("spread", "binance", "okx", false, -120_000, 9.0, 1),
        sig("spread", "binance", "okx", true, 60_250, 7.0, 1),
        sig("divergence", "binance", "", false, 120_000, 0.8, 1),
        sig("divergence", "okx", "", false, 120_000, 1.1, 1),
        sig("divergence", "okx", "", false, 900_000, 4.4, 1),
        sig("spread", "binance", "okx", false, 240_000, -2.25, 2),
    ];
    let signal_row = |s: &Signal| {
        json!({
            "kind": s.kind, "venue": s.venue, "venue_b": s.venue_b,
            "instrument": if s.decoy { decoy.as_str() } else { instrument.as_str() },
            "channel": "", "interval": "", "value": s.value, "unit": "bps",
            "at": ch_time(us(s.at)), "emitted_at": ch_time(us(s.at) + s.emitted),
        })
    };
    let (first, correction) = signals.split_at(signals.len() - 1);
    insert(&ch, "signals", &first.iter().map(signal_row).collect::<Vec<_>>()).await;
    insert(&ch, "signals", &correction.iter().map(signal_row).collect::<Vec<_>>()).await;

    // PriceSmooth: a ramp and a steady tick in the range, one tick before it.
    let smooth = [
        Smooth { at: 60_000, price: "64000.5", target: "64010", version: 1 },
        Smooth { at: 61_000, price: "64002.5", target: "64010", version: 1 },
        Smooth { at: 180_000, price: "64010", target: "64010", version: 1 },
        Smooth { at: -60_000, price: "63000", target: "63000", version: 1 },
    ];
    let smooth_rows: Vec<Value> = smooth
        .iter()
        .map(|s| {
            json!({
                "instrument": instrument, "tick": ch_time(us(s.at)), "price": s.price, "target": s.target,
                "state": if s.price == s.target { "STEADY" } else { "RAMPING" }, "ramp_end": null,
                "sources": 2, "version": s.version, "emitted_at": ch_time(us(s.at)),
            })
        })
        .collect();
    insert(&ch, "price_smooth", &smooth_rows).await;

    // Data quality: two channels over two minutes (one row restated later), one minute
    // before the range.
    let q = |channel, minute, messages, gaps, reconnects, lag_p95, inserted| Quality {
        channel,
        minute,
        messages,
        gaps,
        reconnects,
        lag_p95,
        inserted,
    };
    let quality = [
        q("trades", 60, 100, 1, 0, Some(12.5), 1),
        q("depth", 60, 300, 0, 1, Some(40.0), 1),
        q("trades", 120, 90, 0, 0, None, 1),
        q("trades", -300, 1000, 9, 9, Some(999.0), 1),
        q("trades", 60, 120, 2, 1, Some(15.0), 2),
    ];
    let quality_row = |r: &Quality| {
        json!({
            "venue": "binance", "instrument": instrument, "channel": r.channel, "minute": ch_time(us(r.minute * 1000)),
            "messages": r.messages, "gaps": r.gaps, "lost_messages": null, "out_of_order": 0, "duplicates": 0,
            "reconnects": r.reconnects, "resyncs": 0, "quarantined": 0, "max_silence_ms": 0,
            "source_lag_p95_ms": r.lag_p95, "inserted_at": ch_time(us(r.minute * 1000) + r.inserted),
        })
    };
    let (first, restated) = quality.split_at(quality.len() - 1);
    insert(&ch, "data_quality_minute", &first.iter().map(quality_row).collect::<Vec<_>>()).await;
    insert(&ch, "data_quality_minute", &restated.iter().map(quality_row).collect::<Vec<_>>()).await;

    // ---- variables ----
    let g = grafana("binance", "1m");
    let venues: BTreeSet<String> = query(&ch, "$venue", &g.expand(variable_sql(&d, "venue")))
        .await
        .iter()
        .map(|r| str_of(&r["venue"]).to_string())
        .collect();
    assert!(venues.contains("binance") && venues.contains("okx"), "{venues:?}");
    for (venue, listed) in [("binance", true), ("okx", true), ("bybit", false)] {
        let rows = query(&ch, "$instrument", &grafana(venue, "1m").expand(variable_sql(&d, "instrument"))).await;
        let found = rows.iter().any(|r| r["instrument"] == instrument.as_str());
        assert_eq!(found, listed, "$instrument for venue {venue}: {} rows", rows.len());
    }

    // ---- candlestick: the latest version of each bar of the venue, interval and range ----
    for interval in ["1m", "1s"] {
        let rows = query(&ch, "k-lines", &grafana("binance", interval).expand(panel_sql(&d, "K-lines"))).await;
        let in_bars: Vec<&Bar> = latest(&bars, |b| (b.venue, b.interval, b.at), |b| b.version)
            .into_iter()
            .filter(|b| b.venue == "binance" && b.interval == interval && in_range(b.at * 1000))
            .collect();
        assert!(!in_bars.is_empty());
        let got: Vec<(String, [f64; 5])> = rows
            .iter()
            .map(|r| {
                (str_of(&r["time"]).to_string(), ["open", "high", "low", "close", "volume"].map(|c| f64_of(&r[c])))
            })
            .collect();
        let want: Vec<(String, [f64; 5])> = in_bars
            .iter()
            .map(|b| (ch_time(us(b.at * 1000)), b.ohlcv.map(|v| v.parse::<f64>().expect("decimal"))))
            .collect();
        assert_eq!(got, want, "k-lines of binance {interval}");
    }

    // ---- spread: one series per pair of our instrument, the latest value of each point ----
    let rows = query(&ch, "spread", &g.expand(panel_sql(&d, "Spread"))).await;
    let got: Vec<(String, String, f64)> = rows
        .iter()
        .map(|r| (str_of(&r["time"]).to_string(), str_of(&r["pair"]).to_string(), f64_of(&r["spread_bps"])))
        .collect();
    let mut want: Vec<(String, String, f64)> =
        latest(&signals, |s| (s.kind, s.venue, s.venue_b, s.decoy, s.at), |s| s.emitted)
            .into_iter()
            .filter(|s| s.kind == "spread" && !s.decoy && in_range(s.at))
            .map(|s| (ch_time(us(s.at)), format!("{}/{}", s.venue, s.venue_b), s.value))
            .collect();
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(want.len(), 3);
    assert_eq!(got, want, "spread");

    // ---- divergence: one series per venue ----
    let rows = query(&ch, "divergence", &g.expand(panel_sql(&d, "Index/mark"))).await;
    let got: Vec<(String, String, f64)> = rows
        .iter()
        .map(|r| (str_of(&r["time"]).to_string(), str_of(&r["venue"]).to_string(), f64_of(&r["divergence_bps"])))
        .collect();
    let want: Vec<(String, String, f64)> = signals
        .iter()
        .filter(|s| s.kind == "divergence" && !s.decoy && in_range(s.at))
        .map(|s| (ch_time(us(s.at)), s.venue.to_string(), s.value))
        .collect();
    assert_eq!(want.len(), 2);
    assert_eq!(got, want, "divergence");

    // ---- PriceSmooth ----
    let rows = query(&ch, "PriceSmooth", &g.expand(panel_sql(&d, "PriceSmooth"))).await;
    let got: Vec<(String, f64, f64)> =
        rows.iter().map(|r| (str_of(&r["time"]).to_string(), f64_of(&r["price"]), f64_of(&r["target"]))).collect();
    let want: Vec<(String, f64, f64)> = smooth
        .iter()
        .filter(|s| in_range(s.at))
        .map(|s| (ch_time(us(s.at)), s.price.parse().expect("price"), s.target.parse().expect("target")))
        .collect();
    assert_eq!(want.len(), 3);
    assert_eq!(got, want, "PriceSmooth");

    // Alerts, inserted only now so that a failure above leaves none firing on the stack: one
    // firing, one fired then resolved, one resolved then firing again.
    let fp = |what: &str| format!("{name}-{what}");
    let alert = |what: &str, state, severity, started, emitted| Alert {
        fingerprint: fp(what),
        state,
        severity,
        started,
        emitted,
    };
    let alerts = [
        alert("firing", "FIRING", "P2", 60_000, 60_000),
        alert("resolved", "FIRING", "P1", 60_000, 60_000),
        alert("resolved", "RESOLVED", "P1", 60_000, 180_000),
        alert("refired", "FIRING", "P3", 0, 0),
        alert("refired", "RESOLVED", "P3", 0, 120_000),
        alert("refired", "FIRING", "P3", 240_000, 240_000),
    ];
    let alert_row = |a: &Alert| {
        json!({
            "fingerprint": a.fingerprint, "rule": "spread_wide", "severity": a.severity, "state": a.state,
            "venue": "binance", "instrument": instrument, "value": 12.5, "threshold": 10.0,
            "summary": format!("{} {}", a.fingerprint, a.state), "labels": {"pair": "binance/okx"},
            "started_at": ch_time(us(a.started)), "emitted_at": ch_time(us(a.emitted)),
        })
    };
    insert(&ch, "alerts", &alerts.iter().map(alert_row).collect::<Vec<_>>()).await;

    // ---- live alerts: the fingerprints whose latest state is FIRING, with their latest row ----
    let ours = |rows: &[Value]| -> BTreeMap<String, Value> {
        rows.iter()
            .filter(|r| str_of(&r["fingerprint"]).starts_with(&name))
            .map(|r| (str_of(&r["fingerprint"]).to_string(), r.clone()))
            .collect()
    };
    let rows = query(&ch, "live alerts", &g.expand(panel_sql(&d, "Live alerts"))).await;
    let got = ours(&rows);
    // Leave no test alert firing on the stack (before any assertion can fail): resolve every
    // fingerprint of ours, after which the panel must let all of them go.
    let resolutions: Vec<Value> = latest(&alerts, |a| a.fingerprint.clone(), |a| a.emitted)
        .into_iter()
        .filter(|a| a.state == "FIRING")
        .map(|a| alert_row(&Alert { state: "RESOLVED", emitted: a.emitted + 60_000, ..a.clone() }))
        .collect();
    insert(&ch, "alerts", &resolutions).await;
    let after = ours(&query(&ch, "live alerts", &g.expand(panel_sql(&d, "Live alerts"))).await);
    let firing: Vec<&Alert> =
        latest(&alerts, |a| a.fingerprint.clone(), |a| a.emitted).into_iter().filter(|a| a.state == "FIRING").collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), firing.iter().map(|a| &a.fingerprint).collect::<Vec<_>>());
    assert!(got.contains_key(&fp("firing")) && got.contains_key(&fp("refired")));
    assert!(!got.contains_key(&fp("resolved")), "a resolved alert is shown as live");
    for a in firing {
        let r = &got[&a.fingerprint];
        assert_eq!(r["severity"], a.severity, "{}", a.fingerprint);
        assert_eq!(r["summary"], format!("{} FIRING", a.fingerprint));
        assert_eq!((r["rule"].as_str(), r["instrument"].as_str()), (Some("spread_wide"), Some(instrument.as_str())));
        assert_eq!(str_of(&r["started_at"]), ch_time(us(a.started)), "{}", a.fingerprint);
    }
    assert!(after.is_empty(), "resolved alerts still live: {:?}", after.keys());

    // ---- data quality: sums over the range's rows (restated ones as restated), completeness
    // from the 1m k-lines ----
    let rows = query(&ch, "data quality", &g.expand(panel_sql(&d, "Data quality"))).await;
    let mine: Vec<&Value> = rows.iter().filter(|r| r["instrument"] == instrument.as_str()).collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    let row = mine[0];
    assert_eq!(row["venue"], "binance");
    let counted: Vec<&Quality> = latest(&quality, |r| (r.channel, r.minute), |r| r.inserted)
        .into_iter()
        .filter(|r| in_range(r.minute * 1000))
        .collect();
    assert_eq!(counted.len(), 3);
    assert_eq!(i64_of(&row["messages"]), counted.iter().map(|r| r.messages).sum::<i64>());
    assert_eq!(i64_of(&row["gaps"]), counted.iter().map(|r| r.gaps).sum::<i64>());
    assert_eq!(i64_of(&row["reconnects"]), counted.iter().map(|r| r.reconnects).sum::<i64>());
    let lag = counted.iter().filter_map(|r| r.lag_p95).fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(f64_of(&row["lag_p95_ms"]), lag);
    let minutes: BTreeSet<i64> = bars
        .iter()
        .filter(|b| b.venue == "binance" && b.interval == "1m" && b.at >= 0 && b.at * 1000 < to_ms - from_ms)
        .map(|b| b.at)
        .collect();
    assert_eq!(minutes.len(), 3);
    let completeness = f64_of(&row["completeness"]);
    assert!(
        (completeness - minutes.len() as f64 / range_minutes).abs() < 1e-12,
        "completeness {completeness}, want {} / {range_minutes}",
        minutes.len()
    );
}
