//! Every depth recording in `../shared/fixtures` through its venue's sync rules: no false
//! gap, every non-zero OKX checksum verified, Binance's own best bid/ask equal to ours at
//! every bookTicker whose update id matches a diff; and injected faults (a dropped message,
//! a repeat, a changed size) are detected and counted exactly.

use tickwatch_ingest::replay::{replay, Replay, Venue};
use tickwatch_model::Decimal;
use tickwatch_testkit::fixtures;

const SPOT: [&str; 4] = ["NKNUSDT", "LRCBTC", "BLZETH", "RUNEEUR"];
const USDM: [&str; 4] = ["SUSHIUSDT", "AKROUSDT", "CTKUSDT", "KEEPUSDT"];
const OKX: [&str; 3] = ["BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"];
const BYBIT: &str = "bybit/orderbook_500_XRPUSDT_2024-12-01_historical.jsonl";

fn read(dir: &std::path::Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn binance_files(venue: Venue, symbol: &str) -> (String, String) {
    let folder = if venue == Venue::Binance { "binance_spot" } else { "binance_usdm" };
    (format!("{folder}/rest_depth_snapshot_{symbol}.json"), format!("{folder}/depth_diff_100ms_{symbol}.jsonl"))
}

fn run_binance(dir: &std::path::Path, venue: Venue, symbol: &str, edit: impl Fn(Vec<&str>) -> Vec<&str>) -> Replay {
    let (snap, diffs) = binance_files(venue, symbol);
    let text = read(dir, &diffs);
    let lines = edit(text.lines().collect()).join("\n");
    replay(venue, Some(&read(dir, &snap)), &lines, None).unwrap()
}

#[test]
fn binance_recordings_sync_without_a_false_gap() {
    let Some(dir) = fixtures() else { return };
    for (venue, symbols) in [(Venue::Binance, SPOT), (Venue::BinanceUsdm, USDM)] {
        for symbol in symbols {
            let r = run_binance(&dir, venue, symbol, |l| l);
            assert_eq!(r.stats.gaps, 0, "{venue:?} {symbol}: {:?}", r.report);
            assert_eq!(r.stats.rejected, 0, "{venue:?} {symbol}: {:?}", r.report);
            assert!(r.stats.applied > 0, "{venue:?} {symbol}: nothing applied ({:?})", r.stats);
            assert!(!r.book.is_crossed(), "{venue:?} {symbol} ends crossed");
            assert_eq!(r.symbol.as_deref(), Some(symbol));
        }
    }
}

/// At each bookTicker whose `u` is the id of an applied diff, our top of book is Binance's.
#[test]
fn binance_book_tickers_match_our_top_of_book() {
    let Some(dir) = fixtures() else { return };
    let mut compared = 0;
    for (venue, folder, symbols) in [(Venue::Binance, "binance_spot", SPOT), (Venue::BinanceUsdm, "binance_usdm", USDM)]
    {
        for symbol in symbols {
            let Ok(tickers) = std::fs::read_to_string(dir.join(format!("{folder}/bookTicker_{symbol}.jsonl"))) else {
                continue;
            };
            let r = run_binance(&dir, venue, symbol, |l| l);
            let dec = |s: &str| s.parse::<Decimal>().unwrap();
            for line in tickers.lines() {
                let frame: serde_json::Value = serde_json::from_str(line).unwrap();
                let t = tickwatch_ingest::binance::messages::unwrap_stream(&frame);
                let u = t["u"].as_i64().unwrap();
                let Some(top) = r.tops.iter().rev().find(|t| t.update_id == u) else { continue };
                let (bid, ask) = (top.bid.as_ref().unwrap(), top.ask.as_ref().unwrap());
                let at = format!("{symbol} u={u}");
                assert_eq!(dec(&bid.0), dec(t["b"].as_str().unwrap()), "bid price at {at}");
                assert_eq!(dec(&bid.1), dec(t["B"].as_str().unwrap()), "bid size at {at}");
                assert_eq!(dec(&ask.0), dec(t["a"].as_str().unwrap()), "ask price at {at}");
                assert_eq!(dec(&ask.1), dec(t["A"].as_str().unwrap()), "ask size at {at}");
                compared += 1;
            }
        }
    }
    assert!(compared >= 20, "only {compared} bookTickers matched a diff id");
}

#[test]
fn okx_recordings_verify_every_checksum() {
    let Some(dir) = fixtures() else { return };
    for inst in OKX {
        let text = read(&dir, &format!("okx/books_{inst}.jsonl"));
        let with_checksum = text.matches("\"checksum\":").count() - text.matches("\"checksum\":0").count();
        let r = replay(Venue::Okx, None, &text, None).unwrap();
        assert_eq!((r.stats.gaps, r.stats.checksum_mismatches, r.stats.rejected), (0, 0, 0), "{inst}: {:?}", r.report);
        assert_eq!(r.stats.checksums_ok as usize, with_checksum, "{inst}");
        assert_eq!(r.stats.snapshots, 1, "{inst}");
        assert!(with_checksum > 90, "{inst}: {with_checksum}");
    }
}

#[test]
fn the_bybit_recording_syncs() {
    let Some(dir) = fixtures() else { return };
    let r = replay(Venue::Bybit, None, &read(&dir, BYBIT), None).unwrap();
    assert_eq!((r.stats.snapshots, r.stats.applied, r.stats.gaps), (1, 49, 0), "{:?}", r.report);
    assert_eq!(r.symbol.as_deref(), Some("XRPUSDT"));
    assert!(!r.book.is_crossed());
}

#[test]
fn a_dropped_message_is_one_gap_with_its_exact_or_unknown_loss() {
    let Some(dir) = fixtures() else { return };
    // Spot: ids count changes, so the loss is the dropped event's id range.
    let (_, diffs) = binance_files(Venue::Binance, "NKNUSDT");
    let text = read(&dir, &diffs);
    let lines: Vec<&str> = text.lines().collect();
    let dropped: serde_json::Value = serde_json::from_str(lines[80]).unwrap();
    let ids = dropped["data"]["u"].as_i64().unwrap() - dropped["data"]["U"].as_i64().unwrap() + 1;
    let r = run_binance(&dir, Venue::Binance, "NKNUSDT", |mut l| {
        l.remove(80);
        l
    });
    assert_eq!(r.stats.gaps, 1, "{:?}", r.report);
    assert_eq!(r.stats.lost_exact, ids as u64);
    assert!(r.report[0].contains("sequence break"), "{:?}", r.report);
    // Before the break every event was applied or (before the snapshot) skipped; after it
    // the book waits for a new snapshot and every later event is held for it.
    assert_eq!(r.stats.applied + r.stats.stale, 80);
    assert_eq!(r.stats.buffered as usize, lines.len() - 1 - 80 - 1);

    let r = run_binance(&dir, Venue::BinanceUsdm, "SUSHIUSDT", |mut l| {
        l.remove(100);
        l
    });
    assert_eq!((r.stats.gaps, r.stats.lost_unknown), (1, 1), "{:?}", r.report);

    let text = read(&dir, BYBIT);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.drain(20..23);
    let r = replay(Venue::Bybit, None, &lines.join("\n"), None).unwrap();
    assert_eq!((r.stats.gaps, r.stats.lost_exact, r.stats.lost_unknown), (1, 3, 0), "{:?}", r.report);
}

#[test]
fn a_repeated_message_is_stale_not_a_gap() {
    let Some(dir) = fixtures() else { return };
    for venue in [Venue::Binance, Venue::BinanceUsdm] {
        let symbol = if venue == Venue::Binance { "NKNUSDT" } else { "KEEPUSDT" };
        let clean = run_binance(&dir, venue, symbol, |l| l);
        let r = run_binance(&dir, venue, symbol, |mut l| {
            let again = l[50];
            l.insert(51, again);
            l
        });
        assert_eq!((r.stats.gaps, r.stats.stale), (0, clean.stats.stale + 1), "{venue:?}");
        assert_eq!(r.book, clean.book, "{venue:?}: a repeat changes nothing");
    }
}

#[test]
fn a_changed_size_fails_the_okx_checksum() {
    let Some(dir) = fixtures() else { return };
    let text = read(&dir, "okx/books_BTC-USDT.jsonl");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut push: serde_json::Value = serde_json::from_str(&lines[10]).unwrap();
    let level = &mut push["data"][0]["bids"][0][1];
    let size: Decimal = level.as_str().unwrap().parse().unwrap();
    *level = serde_json::Value::String(size.checked_add("1".parse().unwrap()).unwrap().to_string());
    lines[10] = push.to_string();
    let r = replay(Venue::Okx, None, &lines.join("\n"), None).unwrap();
    assert_eq!(r.stats.checksum_mismatches, 1, "{:?}", r.report);
    assert!(r.report.iter().any(|l| l.starts_with("line 11: checksum mismatch")), "{:?}", r.report);
    // The book is rebuilt only by the next snapshot, which the recording does not have.
    assert_eq!(r.stats.checksums_ok, 10);
}
