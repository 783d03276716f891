//! `tickwatch book replay` on the recordings: the final book as JSON on stdout (the venue's
//! strings, best first), each break on stderr, and the exit status telling them apart.

use std::process::{Command, Output};
use tickwatch_model::Decimal;
use tickwatch_testkit::{fixtures, unique};

fn tickwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickwatch")).args(["book", "replay"]).args(args).output().unwrap()
}

fn prices(levels: &serde_json::Value) -> Vec<Decimal> {
    levels.as_array().unwrap().iter().map(|l| l[0].as_str().unwrap().parse().unwrap()).collect()
}

#[test]
fn a_clean_recording_prints_the_book_and_exits_0() {
    let Some(dir) = fixtures() else { return };
    let snapshot = dir.join("binance_usdm/rest_depth_snapshot_SUSHIUSDT.json");
    let updates = dir.join("binance_usdm/depth_diff_100ms_SUSHIUSDT.jsonl");
    let out = tickwatch(&[
        "--venue",
        "binance-usdm",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--updates",
        updates.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("0 sequence breaks"), "{stderr}");
    let book: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let last_diff = std::fs::read_to_string(&updates).unwrap().lines().last().map(str::to_string).unwrap();
    let last: serde_json::Value = serde_json::from_str(&last_diff).unwrap();
    assert_eq!(book["last_update_id"], last["data"]["u"]);
    assert_eq!(book["symbol"], "SUSHIUSDT");
    let (bids, asks) = (prices(&book["bids"]), prices(&book["asks"]));
    assert!(bids.windows(2).all(|w| w[0] > w[1]) && asks.windows(2).all(|w| w[0] < w[1]), "best first");
    assert!(bids[0] < asks[0], "not crossed");
    // Strings come back as the venue wrote them (trailing zeros and all).
    let text = std::fs::read_to_string(&snapshot).unwrap() + &std::fs::read_to_string(&updates).unwrap();
    let level = &book["asks"][0];
    assert!(text.contains(&format!("[\"{}\",\"{}\"]", level[0].as_str().unwrap(), level[1].as_str().unwrap())));
}

#[test]
fn a_break_is_reported_and_exits_1_and_bad_arguments_exit_2() {
    let Some(dir) = fixtures() else { return };
    let text = std::fs::read_to_string(dir.join("bybit/orderbook_500_XRPUSDT_2024-12-01_historical.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(30);
    let path = std::env::temp_dir().join(format!("{}.jsonl", unique("gap")));
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = tickwatch(&["--venue", "bybit", "--updates", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 31: sequence break") && stderr.contains("(1 ids lost)"), "{stderr}");
    // The book after the break is empty: it waits for a snapshot.
    let book: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(book["bids"].as_array().unwrap().len(), 0);

    let updates = dir.join("binance_spot/depth_diff_100ms_NKNUSDT.jsonl");
    let out = tickwatch(&["--venue", "binance", "--updates", updates.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--snapshot"), "{stderr}");
    let out = tickwatch(&["--venue", "kraken", "--updates", updates.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known: binance"));
}
