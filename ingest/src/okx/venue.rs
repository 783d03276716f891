//! OKX v5 public for the shared connection loop: `{"op":"subscribe","args":[..]}`, the text
//! heartbeat (`ping` after 25 s of quiet; OKX drops a connection silent for 30 s), books
//! rebuilt by subscribing `books` again (the venue then pushes a snapshot), and the REST
//! `market/books` and `public/instruments` endpoints.

use super::book::OkxBook;
use super::messages::{market_of, underlying, BooksPush, IndexTicker, Instruments, Push, RestBooks};
use super::records;
use crate::book::BookSet;
use crate::frame::{parse_text, Frame, GarbageKind, RawRecord};
use crate::session::{book_symbols, ConnectorConfig, Read, Repair, RestBook, Stream, Venue, VenueSession};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub struct Okx;

pub struct OkxSession {
    books: BookSet<OkxBook>,
    /// Index id → the configured derivatives that follow it.
    followers: BTreeMap<String, Vec<String>>,
}

fn arg(channel: &str, inst_id: &str) -> String {
    serde_json::json!({"channel": channel, "instId": inst_id}).to_string()
}

fn request(op: &str, args: &[&str]) -> String {
    format!("{{\"op\":\"{op}\",\"args\":[{}]}}", args.join(","))
}

fn followers(cfg: &ConnectorConfig) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (symbol, _) in &cfg.instruments {
        if let Some(u) = underlying(symbol) {
            out.entry(u.to_string()).or_default().push(symbol.clone());
        }
    }
    out
}

impl Venue for Okx {
    type Session = OkxSession;

    /// `trades` and `books` per instrument; `mark-price` per derivative, `funding-rate` per
    /// swap, and `index-tickers` once per index a derivative follows.
    fn streams(&self, cfg: &ConnectorConfig) -> Vec<Stream> {
        let has = |c: &str| cfg.channels.iter().any(|x| x == c);
        let mut out = Vec::new();
        for (symbol, _) in &cfg.instruments {
            let mut add =
                |name: &str, channel| out.push(Stream { symbol: symbol.clone(), channel, arg: arg(name, symbol) });
            if has("trades") {
                add("trades", "trades");
            }
            if has("depth") {
                add("books", "depth");
            }
            let market = market_of(symbol);
            if has("mark_price") && market != "spot" {
                add("mark-price", "reference");
            }
            if has("funding") && market == "swap" {
                add("funding-rate", "reference");
            }
        }
        if has("index_price") {
            for index in followers(cfg).keys() {
                // Channel `index`: its records are published as the followers' reference prices.
                out.push(Stream { symbol: index.clone(), channel: "index", arg: arg("index-tickers", index) });
            }
        }
        out
    }

    fn args_per_message(&self) -> usize {
        100
    }

    fn subscribe(&self, streams: &[Stream], _id: u64) -> String {
        request("subscribe", &streams.iter().map(|s| s.arg.as_str()).collect::<Vec<_>>())
    }

    fn session(&self, cfg: &ConnectorConfig, streams: &[Stream]) -> OkxSession {
        OkxSession { books: BookSet::new(book_symbols(streams), OkxBook::new), followers: followers(cfg) }
    }

    fn snapshot_path(&self, symbol: &str, depth: u32) -> String {
        format!("/api/v5/market/books?instId={symbol}&sz={}", depth.min(400))
    }

    fn rest_book(&self, body: &[u8]) -> Result<RestBook, String> {
        let r: RestBooks = serde_json::from_slice(body).map_err(|e| format!("not a books response: {e}"))?;
        let d = r.data.into_iter().next().ok_or("a books response without data")?;
        let side = |l: Vec<Vec<String>>| l.into_iter().filter(|x| x.len() >= 2).map(|x| (x[0].clone(), x[1].clone()));
        Ok(RestBook {
            last_id: d.seq_id.ok_or("a books response without seqId")?,
            bids: side(d.bids).collect(),
            asks: side(d.asks).collect(),
        })
    }

    fn instruments_paths(&self, cfg: &ConnectorConfig) -> Vec<String> {
        let types: BTreeSet<&str> = cfg.instruments.iter().map(|(s, _)| market_of(s)).collect();
        types.into_iter().map(|t| format!("/api/v5/public/instruments?instType={}", t.to_uppercase())).collect()
    }

    fn listed_symbols(&self, body: &[u8]) -> Result<Vec<String>, String> {
        let r: Instruments = serde_json::from_slice(body).map_err(|e| format!("not an instruments response: {e}"))?;
        Ok(r.data.into_iter().map(|i| i.inst_id).collect())
    }
}

/// Records from each element of a push's `data`, read straight from the frame's text.
fn each<'a, T: Deserialize<'a>>(text: &'a str, mut f: impl FnMut(T) -> Result<Vec<RawRecord>, Frame>) -> Frame {
    let push = match parse_text::<Push<T>>(text) {
        Ok(p) => p,
        Err(garbage) => return garbage,
    };
    let mut out = Vec::with_capacity(push.data.len());
    for d in push.data {
        match f(d) {
            Ok(records) => out.extend(records),
            Err(garbage) => return garbage,
        }
    }
    Frame::Records(out)
}

/// What a frame is, read without building a JSON tree (its `data` is skipped).
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arg: Option<PeekArg<'a>>,
}

#[derive(Deserialize)]
struct PeekArg<'a> {
    #[serde(borrow, default)]
    channel: Cow<'a, str>,
}

impl OkxSession {
    fn books_push(&mut self, text: &str, received_ms: i64) -> Read {
        let push: BooksPush = match parse_text(text) {
            Ok(p) => p,
            Err(garbage) => return Read::frame(garbage),
        };
        let snapshot = push.action == "snapshot";
        let symbol = push.arg.inst_id;
        let mut records = Vec::new();
        let mut sync = Vec::new();
        for d in &push.data {
            match records::book(&symbol, snapshot, d, received_ms) {
                Ok(r) => records.push(r),
                Err(garbage) => return Read::frame(garbage),
            }
            if let Some(book) = self.books.get_mut(&symbol) {
                sync.extend(book.on_push(snapshot, d).into_iter().map(|e| (symbol.clone(), e)));
            }
        }
        Read { frame: Frame::Records(records), sync, closing: false }
    }

    /// Acks, errors and notices (rare: read through a JSON tree).
    fn event(text: &str) -> Read {
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        Read::frame(match v["event"].as_str().unwrap_or_default() {
            "error" => Frame::garbage(GarbageKind::VenueError, format!("{} {}", v["code"], v["msg"])),
            // 64008: the connection closes soon for a service upgrade.
            "notice" if v["code"] == "64008" => return Read::closing(),
            "notice" => {
                tracing::warn!(venue = "okx", notice = %v["msg"], "venue notice");
                Frame::Control
            }
            _ => Frame::Control,
        })
    }
}

impl VenueSession for OkxSession {
    type Book = OkxBook;

    fn books(&self) -> &BookSet<OkxBook> {
        &self.books
    }

    fn books_mut(&mut self) -> &mut BookSet<OkxBook> {
        &mut self.books
    }

    fn heartbeat(&self) -> Option<(Duration, String)> {
        Some((Duration::from_secs(25), "ping".into()))
    }

    fn read(&mut self, text: &str, received_ms: i64) -> Read {
        if text == "pong" {
            return Read::frame(Frame::Control);
        }
        // OKX writes `arg` first: the channel is read off the text; anything else is peeked.
        let channel = match text.strip_prefix(r#"{"arg":{"channel":""#).and_then(|r| r.split('"').next()) {
            Some(c) => Cow::Borrowed(c),
            None => {
                let peek: Peek = match parse_text(text) {
                    Ok(p) => p,
                    Err(garbage) => return Read::frame(garbage),
                };
                if peek.event.is_some() {
                    return Self::event(text);
                }
                peek.arg.map(|a| a.channel).unwrap_or_default()
            }
        };
        let frame = match channel.as_ref() {
            "books" => return self.books_push(text, received_ms),
            "trades" => each(text, |t| Ok(vec![records::trade(t, received_ms)?])),
            "mark-price" => each(text, |m| Ok(vec![records::mark(&m, received_ms)?])),
            "funding-rate" => each(text, |f| Ok(vec![records::funding(&f, received_ms)?])),
            "index-tickers" => each(text, |i: IndexTicker| {
                let symbols = self.followers.get(&i.inst_id).map(Vec::as_slice).unwrap_or_default();
                symbols.iter().map(|s| records::index(&i, s, received_ms)).collect()
            }),
            "" => Frame::garbage(GarbageKind::UnknownEvent, "no event and no channel"),
            other => Frame::garbage(GarbageKind::UnknownEvent, format!("channel `{other}`")),
        };
        Read::frame(frame)
    }

    fn repair(&self, symbol: &str) -> Repair {
        let a = arg("books", symbol);
        Repair::Resubscribe(vec![request("unsubscribe", &[&a]), request("subscribe", &[&a])])
    }

    fn on_rest_snapshot(&mut self, _symbol: &str, _snap: &RestBook, _received_ms: i64) -> Read {
        // OKX books are rebuilt from the snapshot the venue pushes on subscription.
        Read::frame(Frame::Control)
    }
}
