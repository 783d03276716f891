//! Each venue's connection state (what the shared loop drives) over real recordings and
//! hand-written frames in the venues' documented formats: records come out exact, books stay
//! in sync, acks and pongs are control frames, and garbage is named by kind.

use tickwatch_ingest::book::SyncEvent;
use tickwatch_ingest::bybit::Bybit;
use tickwatch_ingest::frame::{Frame, GarbageKind, RawRecord};
use tickwatch_ingest::okx::Okx;
use tickwatch_ingest::session::{ConnectorConfig, Read, Repair, Venue, VenueSession};
use tickwatch_testkit::fixtures;

fn config(venue: &str, symbols: &[&str]) -> ConnectorConfig {
    ConnectorConfig::offline(venue, &symbols.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

#[derive(Default, Debug)]
struct Tally {
    trades: usize,
    books: usize,
    references: usize,
    control: usize,
    garbage: Vec<GarbageKind>,
    sync: Vec<SyncEvent>,
}

impl Tally {
    fn add(&mut self, read: Read) {
        match read.frame {
            Frame::Records(records) => {
                for r in records {
                    match r {
                        RawRecord::Trade(_) => self.trades += 1,
                        RawRecord::Book(_) => self.books += 1,
                        RawRecord::Reference(_) => self.references += 1,
                    }
                }
            }
            Frame::Control => self.control += 1,
            Frame::Garbage { kind, .. } => self.garbage.push(kind),
        }
        self.sync.extend(read.sync.into_iter().map(|(_, e)| e));
    }

    fn count(&self, f: impl Fn(&SyncEvent) -> bool) -> usize {
        self.sync.iter().filter(|e| f(e)).count()
    }
}

fn records(read: Read) -> Vec<RawRecord> {
    match read.frame {
        Frame::Records(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn okx_streams_name_each_channel_once() {
    let cfg = config("okx", &["BTC-USDT", "BTC-USDT-SWAP", "BTC-USD-220527"]);
    let args: Vec<String> = Okx.streams(&cfg).into_iter().map(|s| s.arg).collect();
    let has = |c: &str, i: &str| {
        args.iter().filter(|a| a.contains(&format!("\"{c}\"")) && a.contains(&format!("\"{i}\""))).count()
    };
    assert_eq!((has("trades", "BTC-USDT"), has("books", "BTC-USDT-SWAP")), (1, 1));
    assert_eq!((has("mark-price", "BTC-USDT"), has("mark-price", "BTC-USDT-SWAP")), (0, 1), "no mark price on spot");
    assert_eq!(
        (has("funding-rate", "BTC-USD-220527"), has("funding-rate", "BTC-USDT-SWAP")),
        (0, 1),
        "funding on swaps"
    );
    // One index subscription per index, for every derivative that follows it.
    assert_eq!((has("index-tickers", "BTC-USDT"), has("index-tickers", "BTC-USD")), (1, 1));
    let sub = Okx.subscribe(&Okx.streams(&cfg)[..2], 1);
    let v: serde_json::Value = serde_json::from_str(&sub).unwrap();
    assert_eq!((v["op"].as_str(), v["args"].as_array().map(Vec::len)), (Some("subscribe"), Some(2)));
}

#[test]
fn the_okx_recording_gives_every_trade_and_verified_books() {
    let Some(dir) = fixtures() else { return };
    let text = std::fs::read_to_string(dir.join("okx/ws_public_recording.jsonl")).unwrap();
    let symbols = ["BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"];
    let cfg = config("okx", &symbols);
    let streams = Okx.streams(&cfg);
    let mut s = Okx.session(&cfg, &streams);
    assert_eq!(s.waiting_books().len(), 3);
    let mut t = Tally::default();
    for (i, line) in text.lines().enumerate() {
        t.add(s.read(line, 1_652_459_300_000 + i as i64));
    }
    let recorded = |needle: &str| text.lines().filter(|l| l.contains(needle)).count();
    let trade_lines =
        recorded("\"channel\":\"trades\"") - recorded("\"event\":\"subscribe\",\"arg\":{\"channel\":\"trades\"");
    assert!(trade_lines > 0);
    assert!(t.trades >= trade_lines, "{} trades from {trade_lines} pushes", t.trades);
    assert_eq!(t.garbage, vec![GarbageKind::UnknownEvent; recorded("\"channel\":\"tickers\",\"instId\":\"") - 9]);
    assert_eq!(t.count(|e| matches!(e, SyncEvent::Snapshot { .. })), 3);
    assert_eq!(t.count(|e| e.breaks_book()), 0, "{:?}", t.sync.iter().find(|e| e.breaks_book()));
    assert_eq!(t.count(|e| *e == SyncEvent::ChecksumOk), t.books, "every push carried a checksum and it verified");
    assert!(s.waiting_books().is_empty());
    // A break is repaired by subscribing the books channel again.
    let Repair::Resubscribe(msgs) = s.repair("BTC-USDT") else { panic!("OKX books resubscribe") };
    assert!(msgs[0].contains("unsubscribe") && msgs[1].contains("\"subscribe\"") && msgs[1].contains("BTC-USDT"));
}

#[test]
fn okx_reference_channels_and_control_frames() {
    let cfg = config("okx", &["BTC-USDT-SWAP"]);
    let mut s = Okx.session(&cfg, &Okx.streams(&cfg));
    let mark = r#"{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","markPx":"42310.60","ts":"1630049139746"}]}"#;
    let RawRecord::Reference(m) = &records(s.read(mark, 1_630_049_139_800))[0] else { panic!() };
    assert_eq!((m.mark_price.unwrap().to_string(), m.index_price, m.market.as_str()), ("42310.6".into(), None, "swap"));
    assert_eq!((m.event_time_us, m.receive_time_us), (1_630_049_139_746_000, 1_630_049_139_800_000));
    let index = r#"{"arg":{"channel":"index-tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","idxPx":"42305.1","high24h":"1","low24h":"1","open24h":"1","sodUtc0":"1","sodUtc8":"1","ts":"1630049139700"}]}"#;
    let RawRecord::Reference(i) = &records(s.read(index, 0))[0] else { panic!() };
    assert_eq!((i.symbol.as_str(), i.index_price.unwrap().to_string()), ("BTC-USDT-SWAP", "42305.1".into()));
    let funding = r#"{"arg":{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},"data":[{"fundingRate":"0.0001875391284828","fundingTime":"1700726400000","instId":"BTC-USDT-SWAP","instType":"SWAP","nextFundingTime":"1700755200000","ts":"1700724675402"}]}"#;
    let RawRecord::Reference(f) = &records(s.read(funding, 0))[0] else { panic!() };
    assert_eq!(
        (f.funding_rate.unwrap().to_string(), f.next_funding_time_us),
        ("0.0001875391284828".into(), Some(1_700_726_400_000_000))
    );
    assert_eq!(s.read("pong", 0).frame, Frame::Control);
    assert_eq!(
        s.read(r#"{"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT-SWAP"}}"#, 0).frame,
        Frame::Control
    );
    let kind = |f: Frame| match f {
        Frame::Garbage { kind, .. } => kind,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        kind(s.read(r#"{"event":"error","code":"60012","msg":"Invalid request"}"#, 0).frame),
        GarbageKind::VenueError
    );
    assert_eq!(kind(s.read("{no", 0).frame), GarbageKind::NotJson);
    assert_eq!(kind(s.read(&mark.replace("42310.60", "4x"), 0).frame), GarbageKind::BadNumber);
    assert_eq!(kind(s.read(&mark.replace("markPx", "mark"), 0).frame), GarbageKind::MissingField);
}

#[test]
fn the_bybit_recording_syncs_and_a_lost_delta_is_an_exact_gap() {
    let Some(dir) = fixtures() else { return };
    let text = std::fs::read_to_string(dir.join("bybit/orderbook_500_XRPUSDT_2024-12-01_historical.jsonl")).unwrap();
    let cfg = config("bybit", &["XRPUSDT"]);
    let venue = Bybit::for_url(&cfg.ws_url);
    let streams = venue.streams(&cfg);
    assert!(streams.iter().any(|s| s.is_book() && s.arg == "orderbook.500.XRPUSDT"));
    let mut s = venue.session(&cfg, &streams);
    let mut t = Tally::default();
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines {
        t.add(s.read(line, 1_733_011_300_000));
    }
    assert_eq!(t.books, lines.len());
    assert_eq!(t.count(|e| e.breaks_book()), 0);
    assert!(s.book("XRPUSDT").is_some_and(|(_, b)| !b.is_crossed()));
    // Drop one delta of a fresh replay: a gap of exactly one update.
    let mut s = venue.session(&cfg, &streams);
    let mut t = Tally::default();
    for (i, line) in lines.iter().enumerate() {
        if i != 5 {
            t.add(s.read(line, 0));
        }
    }
    let gap = t.sync.iter().find(|e| e.breaks_book()).cloned();
    assert!(matches!(gap, Some(SyncEvent::Gap { loss: tickwatch_ingest::book::Loss::Exact(1), .. })), "{gap:?}");
}

#[test]
fn bybit_trades_and_merged_tickers() {
    let cfg = config("bybit", &["BTCUSDT"]);
    let venue = Bybit::for_url(&cfg.ws_url);
    let mut s = venue.session(&cfg, &venue.streams(&cfg));
    let trade = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Sell","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"seq":1783284617}]}"#;
    let RawRecord::Trade(t) = &records(s.read(trade, 1_672_304_487_000))[0] else { panic!() };
    assert_eq!(
        (t.price.to_string(), t.size.to_string(), t.taker_side, t.sequence, t.market.as_str()),
        ("16578.5".into(), "0.001".into(), tickwatch_model::TakerSide::Sell, Some(1_783_284_617), "linear")
    );
    let snapshot = r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","lastPrice":"66666.60","markPrice":"66666.60","indexPrice":"66660.19","nextFundingTime":"1760342400000","fundingRate":"-0.005"},"cs":9532239429,"ts":1760325052630}"#;
    let RawRecord::Reference(r) = &records(s.read(snapshot, 0))[0] else { panic!() };
    assert_eq!(r.next_funding_time_us, Some(1_760_342_400_000_000));
    // A delta with only the mark: the index and funding stay as last known.
    let delta = r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"66670.10"},"cs":9532239430,"ts":1760325053630}"#;
    let RawRecord::Reference(r) = &records(s.read(delta, 0))[0] else { panic!() };
    assert_eq!(
        (r.mark_price.unwrap().to_string(), r.index_price.unwrap().to_string(), r.funding_rate.unwrap().to_string()),
        ("66670.1".into(), "66660.19".into(), "-0.005".into())
    );
    assert_eq!(r.event_time_us, 1_760_325_053_630_000);
    // A delta that moves no reference field publishes nothing.
    let last_only =
        r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","lastPrice":"1"},"cs":1,"ts":1}"#;
    assert!(records(s.read(last_only, 0)).is_empty());
    let pong = r#"{"success":true,"ret_msg":"pong","conn_id":"465772b1","req_id":"","op":"ping"}"#;
    assert_eq!(s.read(pong, 0).frame, Frame::Control);
    let refused =
        r#"{"success":false,"ret_msg":"error:handler not found","conn_id":"x","req_id":"1","op":"subscribe"}"#;
    assert!(matches!(s.read(refused, 0).frame, Frame::Garbage { kind: GarbageKind::VenueError, .. }));
    assert!(matches!(
        s.read(r#"{"topic":"kline.1.BTCUSDT"}"#, 0).frame,
        Frame::Garbage { kind: GarbageKind::UnknownEvent, .. }
    ));
    let Repair::Resubscribe(msgs) = s.repair("BTCUSDT") else { panic!("Bybit books resubscribe") };
    assert!(msgs[1].contains("orderbook.500.BTCUSDT"));
}
