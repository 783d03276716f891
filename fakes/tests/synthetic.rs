//! The synthetic market, written in each venue's format, read back by the ingestors' own
//! venue sessions: every trade comes out, every book stays in sync (OKX checksums verify),
//! and the same seed writes the same market.

use tickwatch_fakes::synthetic::{Event, Synthetic};
use tickwatch_ingest::binance::Binance;
use tickwatch_ingest::book::SyncEvent;
use tickwatch_ingest::bybit::Bybit;
use tickwatch_ingest::frame::{Frame, RawRecord};
use tickwatch_ingest::okx::Okx;
use tickwatch_ingest::session::{ConnectorConfig, Venue, VenueSession};

/// Every line of `text` through `session`: (trades, breaks, checksums verified).
fn read_all(session: &mut impl VenueSession, text: &str) -> (usize, usize, usize) {
    let (mut trades, mut breaks, mut checksums) = (0, 0, 0);
    for line in text.lines() {
        let read = session.read(line, 0);
        if let Frame::Records(r) = &read.frame {
            trades += r.iter().filter(|r| matches!(r, RawRecord::Trade(_))).count();
        }
        assert!(!matches!(read.frame, Frame::Garbage { .. }), "{line}");
        breaks += read.sync.iter().filter(|(_, e)| e.breaks_book()).count();
        checksums += read.sync.iter().filter(|(_, e)| *e == SyncEvent::ChecksumOk).count();
    }
    (trades, breaks, checksums)
}

#[test]
fn every_venue_format_reads_back_in_sync() {
    let market = Synthetic { seed: 7, instruments: 3, seconds: 5, ..Synthetic::default() };
    let (_, events) = market.events();
    let trades = events.iter().filter(|e| matches!(e, Event::Trade { .. })).count();
    let updates = events.len() - trades;
    assert!(trades > 100 && updates > 50, "{trades} trades, {updates} book updates");
    let root = std::env::temp_dir().join(format!("tw-synthetic-test-{}", std::process::id()));
    for venue in ["binance", "binance-usdm", "okx", "bybit"] {
        let dir = root.join(venue);
        let symbols = market.write(venue, &dir).unwrap();
        let cfg = ConnectorConfig::offline(venue, &symbols);
        let got = match venue {
            "okx" => {
                let mut s = Okx.session(&cfg, &Okx.streams(&cfg));
                read_all(&mut s, &std::fs::read_to_string(dir.join("ws_public_recording.jsonl")).unwrap())
            }
            "bybit" => {
                let v = Bybit::for_url(&cfg.ws_url);
                let mut s = v.session(&cfg, &v.streams(&cfg));
                read_all(&mut s, &std::fs::read_to_string(dir.join("orderbook_500_synthetic.jsonl")).unwrap())
            }
            _ => {
                let v = Binance::for_venue(venue);
                let mut s = v.session(&cfg, &v.streams(&cfg));
                for sym in &symbols {
                    let body = std::fs::read(dir.join(format!("rest_depth_snapshot_{sym}.json"))).unwrap();
                    let snap = v.rest_book(&body).unwrap();
                    s.on_rest_snapshot(sym, &snap, 0);
                }
                read_all(&mut s, &std::fs::read_to_string(dir.join("ws_combined_stream_recording.jsonl")).unwrap())
            }
        };
        assert_eq!((got.0, got.1), (trades, 0), "{venue}: trades and breaks");
        if venue == "okx" {
            // The snapshots' and every update's checksum.
            assert_eq!(got.2, updates + 3);
        }
        assert!(symbols.iter().all(|s| s.starts_with("SYN")));
    }
    let again = root.join("again");
    market.write("okx", &again).unwrap();
    assert_eq!(
        std::fs::read(again.join("ws_public_recording.jsonl")).unwrap(),
        std::fs::read(root.join("okx/ws_public_recording.jsonl")).unwrap(),
        "the same seed writes the same market"
    );
    let _ = std::fs::remove_dir_all(root);
}
