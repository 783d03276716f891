//! History from ClickHouse: paging, exact decimals, corrections, factors and quality.

use crate::support::*;
use serde_json::Value;
use std::process::Command;
use tickwatch_testkit::{stack, unique};

#[tokio::test(flavor = "multi_thread")]
async fn history_comes_from_clickhouse_paged_exact_and_final() {
    let _serial = SERIAL.lock().await;
    let prefix = unique("apih");
    let day = test_day_us(&prefix);
    seed_history(day).await;
    let (_api, base) = api(&prefix, "api", &config(&prefix, "")).await;
    let (from, to) = (day / 1000, day / 1000 + 86_400_000);

    // Paging: 1440 bars in pages of 500, each once, ascending.
    let mut all = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let path = format!(
            "/api/v1/klines?venue=binance&instrument=BTC-USDT&interval=1m&from={from}&to={to}&limit=500{cursor}"
        );
        let page = ok(&base, &path).await;
        pages += 1;
        all.extend(page["items"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((pages, all.len()), (3, 1440));
    let opens: Vec<i64> = all.iter().map(|k| k["open_time_ms"].as_i64().unwrap()).collect();
    assert!(opens.windows(2).all(|w| w[1] - w[0] == 60_000), "ascending minutes, none twice");
    assert_eq!(opens[0], from);
    // Exact decimals, and the corrected first bar (version 2) is the one served.
    assert_eq!(all[0]["open"], "100.000000000000000001");
    assert_eq!(
        (all[0]["close"].as_str(), all[0]["version"].as_i64(), all[0]["verification"].as_str()),
        (Some("0.75"), Some(2), Some("VERIFIED"))
    );
    assert_eq!(all[1439]["open"], "1539.000000000000000001");
    assert_eq!(all[1439]["close"], "1439.25");

    // RFC 3339 gives the same answer as milliseconds.
    let iso =
        ok(&base, &format!("/api/v1/klines?venue=okx&instrument=BTC-USDT&from={from}&to={}", from + 3_600_000)).await;
    assert_eq!(iso["items"].as_array().unwrap().len(), 45);

    // The history cache: a bar written now is not in the same question's answer within the
    // TTL, and is in a different question's.
    insert_klines(&[format!(
        "('okx','BTC-USDT','1m',{},{},'1','1','1','1','1','1','1',1,'0','0','a','b',1,'UNVERIFIED',now64(6))",
        ts(day + 3 * MIN_US),
        ts(day + 4 * MIN_US - 1)
    )])
    .await;
    let again =
        ok(&base, &format!("/api/v1/klines?venue=okx&instrument=BTC-USDT&from={from}&to={}", from + 3_600_000)).await;
    assert_eq!(again["items"].as_array().unwrap().len(), 45, "answered from the cache");
    let other = ok(
        &base,
        &format!("/api/v1/klines?venue=okx&instrument=BTC-USDT&from={from}&to={}&limit=499", from + 3_600_000),
    )
    .await;
    assert_eq!(other["items"].as_array().unwrap().len(), 46, "a new question reads ClickHouse");

    // Factors: VWAP from the bars, imbalance from the book windows (first 5 minutes only).
    let recent = recent_us(day) / 1_000;
    let f =
        ok(&base, &format!("/api/v1/factors?venue=binance&instrument=ETH-USDT&from={recent}&to={}", recent + 600_000))
            .await;
    let f = f["items"].as_array().unwrap();
    assert_eq!(f.len(), 10);
    assert_eq!(
        (f[0]["vwap"].as_str(), f[0]["imbalance"].as_f64(), f[0]["bid_depth"].as_str()),
        (Some("0.1"), Some(-0.2), Some("4"))
    );
    assert_eq!((f[9]["vwap"].as_str(), &f[9]["imbalance"]), (Some("9.1"), &Value::Null));

    // Quality: per minute, and the summary with completeness 1 (binance) and 45/60 (okx).
    let q = ok(
        &base,
        &format!("/api/v1/quality?venue=okx&instrument=BTC-USDT&from={from}&to={}&limit=100", from + 3_600_000),
    )
    .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 60);
    let s =
        ok(&base, &format!("/api/v1/quality/summary?instrument=BTC-USDT&from={from}&to={}", from + 3_600_000)).await;
    let s = s["items"].as_array().unwrap();
    let row = |v: &str| s.iter().find(|r| r["venue"] == v).unwrap_or_else(|| panic!("{v} in {s:?}")).clone();
    let (b, o) = (row("binance"), row("okx"));
    assert_eq!(
        (b["minutes"].as_i64(), b["messages"].as_i64(), b["gaps"].as_i64(), b["reconnects"].as_i64()),
        (Some(60), Some(6000), Some(30), Some(1))
    );
    assert_eq!(b["completeness"].as_f64(), Some(1.0));
    // One bar was added above (minute 3 had none): 46 of 60.
    assert!((o["completeness"].as_f64().unwrap() - 46.0 / 60.0).abs() < 1e-9, "{o}");
    let slo = ok(&base, &format!("/api/v1/slo?from={from}&to={}", from + 3_600_000)).await;
    let okx = slo["venues"].as_array().unwrap().iter().find(|v| v["venue"] == "okx").cloned().unwrap();
    assert_eq!(okx["completeness_met"], false);
    assert_eq!(okx["reconnects"], 1);

    // `tickwatch slo` gives the same report, as JSON and as a table marking the missed target.
    let slo_cli = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
            .arg("--config")
            .arg(&stack().settings_path)
            .args(["slo", "--from", &from.to_string(), "--to", &(from + 3_600_000).to_string(), "--format", format])
            .output()
            .expect("tickwatch slo runs");
        assert!(out.status.success(), "tickwatch slo: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(serde_json::from_str::<Value>(&slo_cli("json")).unwrap(), slo);
    let table = slo_cli("table");
    let okx_line = table.lines().find(|l| l.starts_with("okx")).unwrap_or_else(|| panic!("okx in {table}"));
    assert!(okx_line.contains("MISSED 76.667"), "{table}");
}
