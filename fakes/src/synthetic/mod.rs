//! A seeded synthetic market: per instrument, a random-walk mid price with trades around it
//! and a book of levels near it that changes a few levels at a time, written as a
//! recording folder in the venue's own formats (so the fake serves it like a real
//! recording, and the benchmark parses exactly what the venue would send). The same seed
//! gives the same market.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use tickwatch_ingest::book::{Level, OrderBook};
use tickwatch_ingest::okx::checksum::checksum;

mod walk;
pub use walk::MarketWalk;

#[derive(Debug, Clone)]
pub struct Synthetic {
    pub seed: u64,
    pub instruments: usize,
    pub seconds: u64,
    /// Per instrument and second, on average.
    pub trades_per_second: f64,
    pub depth_per_second: f64,
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic { seed: 1, instruments: 20, seconds: 60, trades_per_second: 20.0, depth_per_second: 10.0 }
    }
}

/// One market event in time order.
#[derive(Debug, Clone)]
pub enum Event {
    Trade {
        inst: usize,
        ms: i64,
        id: i64,
        px: String,
        qty: String,
        buy: bool,
    },
    /// Absolute sizes of changed levels (size "0" removes one); `id` counts the instrument's
    /// book updates.
    Depth {
        inst: usize,
        ms: i64,
        id: i64,
        bids: Vec<[String; 2]>,
        asks: Vec<[String; 2]>,
    },
}

impl Event {
    /// Its event time, ms.
    pub fn ms(&self) -> i64 {
        match self {
            Event::Trade { ms, .. } | Event::Depth { ms, .. } => *ms,
        }
    }
}

/// Where each instrument starts: its book, 20 levels a side, 0.01 apart.
pub struct Start {
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
}

/// Where a seeded market starts unless told otherwise (2025-11-24).
pub const START_MS: i64 = 1_764_000_000_000;

fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

impl Synthetic {
    /// The starting books and every event, in time order, from a fixed start time.
    pub fn events(&self) -> (Vec<Start>, Vec<Event>) {
        self.events_from(START_MS)
    }

    /// The same market starting at `start_ms` (e.g. now, for a live-looking offline run).
    pub fn events_from(&self, start_ms: i64) -> (Vec<Start>, Vec<Event>) {
        let walk = MarketWalk::new(self, start_ms, false);
        (walk.starts(), walk.collect())
    }

    /// Write the market as a recording folder of `venue` (binance, binance-usdm, okx,
    /// bybit) into `dir`; returns the venue symbols.
    pub fn write(&self, venue: &str, dir: &Path) -> std::io::Result<Vec<String>> {
        let symbols: Vec<String> = (0..self.instruments)
            .map(|i| match venue {
                "okx" => format!("SYN{i}-USDT"),
                _ => format!("SYN{i}USDT"),
            })
            .collect();
        self.write_as(venue, dir, &symbols, START_MS)?;
        Ok(symbols)
    }

    /// Write the market under the venue symbols given (one instrument each; `instruments` is
    /// ignored), starting at `start_ms`.
    pub fn write_as(&self, venue: &str, dir: &Path, symbols: &[String], start_ms: i64) -> std::io::Result<()> {
        let market = Synthetic { instruments: symbols.len(), ..self.clone() };
        let (starts, events) = market.events_from(start_ms);
        write_recording(venue, dir, symbols, &starts, &events)
    }
}

/// Write `events` over `symbols` (instrument `i` is `symbols[i]`, starting from `starts[i]`)
/// as a recording folder of `venue` in `dir`: what the fake serves. Scripted markets (the
/// alert scenarios) use it as the seeded one does.
pub fn write_recording(
    venue: &str,
    dir: &Path,
    symbols: &[String],
    starts: &[Start],
    events: &[Event],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    match venue {
        "okx" => std::fs::write(dir.join("ws_public_recording.jsonl"), okx(symbols, starts, events))?,
        "bybit" => std::fs::write(dir.join("orderbook_500_synthetic.jsonl"), bybit(symbols, starts, events))?,
        _ => {
            let usdm = venue == "binance-usdm";
            std::fs::write(dir.join("ws_combined_stream_recording.jsonl"), binance(usdm, symbols, events))?;
            for (s, start) in symbols.iter().zip(starts) {
                let snap = serde_json::json!({"lastUpdateId": 0, "bids": start.bids, "asks": start.asks});
                std::fs::write(dir.join(format!("rest_depth_snapshot_{s}.json")), snap.to_string())?;
            }
            let info = serde_json::json!({"symbols": symbols.iter().map(|s| serde_json::json!({"symbol": s})).collect::<Vec<_>>()});
            std::fs::write(dir.join("rest_exchangeInfo.json"), info.to_string())?;
        }
    }
    Ok(())
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data")
}

/// Binance combined-stream frames, keys in Binance's order: `aggTrade` and `depthUpdate`
/// (book ids count updates; each diff spans `U = u − 1 ..= u`, so the first one bridges a
/// snapshot at 0 by spot's and USD-M's rules alike, and on USD-M `pu` is the previous `u`).
pub fn binance(usdm: bool, symbols: &[String], events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        out.push_str(&binance_frame(usdm, symbols, e).1);
        out.push('\n');
    }
    out
}

/// A market walk as the Binance frames a streaming timeline plays.
pub fn binance_frames(walk: MarketWalk, usdm: bool, symbols: Vec<String>) -> crate::timeline::FrameSource {
    Box::new(walk.map(move |e| {
        let (stream, text) = binance_frame(usdm, &symbols, &e);
        (stream, text, e.ms())
    }))
}

/// One event as a Binance combined-stream frame: (stream name, frame text).
pub fn binance_frame(usdm: bool, symbols: &[String], e: &Event) -> (String, String) {
    match e {
        Event::Trade { inst, ms, id, px, qty, buy } => {
            let s = &symbols[*inst];
            let stream = format!("{}@aggTrade", s.to_lowercase());
            let text = format!(
                r#"{{"stream":"{stream}","data":{{"e":"aggTrade","E":{ms},"s":"{s}","a":{id},"p":"{px}","q":"{qty}","f":{id},"l":{id},"T":{ms},"m":{},"M":true}}}}"#,
                !buy
            );
            (stream, text)
        }
        Event::Depth { inst, ms, id, bids, asks } => {
            let s = &symbols[*inst];
            let stream = format!("{}@depth@100ms", s.to_lowercase());
            let futures = if usdm { format!(r#""T":{ms},"#) } else { String::new() };
            let pu = if usdm { format!(r#""pu":{},"#, id - 1) } else { String::new() };
            let text = format!(
                r#"{{"stream":"{stream}","data":{{"e":"depthUpdate","E":{ms},{futures}"s":"{s}","U":{},"u":{id},{pu}"b":{},"a":{}}}}}"#,
                id - 1,
                json(bids),
                json(asks)
            );
            (stream, text)
        }
    }
}

fn levels(raw: &[[String; 2]]) -> Vec<Level> {
    raw.iter().map(|[p, s]| Level::parse(p, s).expect("synthetic levels are valid")).collect()
}

/// OKX pushes: a `books` snapshot per instrument, then `trades` and `books` updates with the
/// checksum of the book after each.
pub fn okx(symbols: &[String], starts: &[Start], events: &[Event]) -> String {
    let four =
        |l: &[[String; 2]]| l.iter().map(|[p, s]| [p.clone(), s.clone(), "0".into(), "1".into()]).collect::<Vec<_>>();
    let mut books: BTreeMap<usize, OrderBook> = BTreeMap::new();
    let mut out = String::new();
    for (i, (s, start)) in symbols.iter().zip(starts).enumerate() {
        let book = books.entry(i).or_default();
        book.reset(levels(&start.bids), levels(&start.asks));
        let data = serde_json::json!({"asks": four(&start.asks), "bids": four(&start.bids), "ts": START_MS.to_string(), "checksum": checksum(book)});
        let _ = writeln!(
            out,
            "{}",
            serde_json::json!({"arg": {"channel": "books", "instId": s}, "action": "snapshot", "data": [data]})
        );
    }
    for e in events {
        let _ = match e {
            Event::Trade { inst, ms, id, px, qty, buy } => writeln!(
                out,
                r#"{{"arg":{{"channel":"trades","instId":"{s}"}},"data":[{{"instId":"{s}","tradeId":"{id}","px":"{px}","sz":"{qty}","side":"{}","ts":"{ms}"}}]}}"#,
                if *buy { "buy" } else { "sell" },
                s = symbols[*inst]
            ),
            Event::Depth { inst, ms, bids, asks, .. } => {
                let book = books.get_mut(inst).expect("started");
                book.update(levels(bids), levels(asks));
                writeln!(
                    out,
                    r#"{{"arg":{{"channel":"books","instId":"{}"}},"action":"update","data":[{{"asks":{},"bids":{},"ts":"{ms}","checksum":{}}}]}}"#,
                    symbols[*inst],
                    json(&four(asks)),
                    json(&four(bids)),
                    checksum(book)
                )
            }
        };
    }
    out
}

/// Bybit pushes: an `orderbook.500` snapshot per instrument, then `publicTrade` and
/// `orderbook` deltas (`u` counts pushes).
pub fn bybit(symbols: &[String], starts: &[Start], events: &[Event]) -> String {
    let mut out = String::new();
    for (s, start) in symbols.iter().zip(starts) {
        let data = serde_json::json!({"s": s, "b": start.bids, "a": start.asks, "u": 0, "seq": 0});
        let _ = writeln!(
            out,
            "{}",
            serde_json::json!({"topic": format!("orderbook.500.{s}"), "type": "snapshot", "ts": START_MS, "data": data, "cts": START_MS})
        );
    }
    for e in events {
        let _ = match e {
            Event::Trade { inst, ms, id, px, qty, buy } => writeln!(
                out,
                r#"{{"topic":"publicTrade.{s}","type":"snapshot","ts":{ms},"data":[{{"T":{ms},"s":"{s}","S":"{}","v":"{qty}","p":"{px}","L":"ZeroPlusTick","i":"00000000-0000-0000-0000-{id:012}","BT":false,"seq":{id}}}]}}"#,
                if *buy { "Buy" } else { "Sell" },
                s = symbols[*inst]
            ),
            Event::Depth { inst, ms, id, bids, asks } => writeln!(
                out,
                r#"{{"topic":"orderbook.500.{s}","type":"delta","ts":{ms},"data":{{"s":"{s}","b":{},"a":{},"u":{id},"seq":{id}}},"cts":{ms}}}"#,
                json(bids),
                json(asks),
                s = symbols[*inst]
            ),
        };
    }
    out
}
