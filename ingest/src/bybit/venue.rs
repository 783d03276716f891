//! Bybit v5 public for the shared connection loop: `{"op":"subscribe","args":[..]}` (10
//! topics a message, as spot requires), `{"op":"ping"}` every 20 s, books rebuilt by
//! subscribing `orderbook.<depth>.<symbol>` again (the venue pushes a snapshot), and the REST
//! `market/orderbook` and `market/instruments-info` endpoints. The category (spot, linear,
//! inverse) is the last segment of the WebSocket URL, as Bybit names its endpoints.

use super::book::BybitBook;
use super::messages::{InstrumentsInfo, OrderbookPush, PublicTrade, RestOrderbook, Tickers};
use super::records;
use crate::book::BookSet;
use crate::frame::{parse_text, Frame, GarbageKind};
use crate::session::{book_symbols, ConnectorConfig, Read, Repair, RestBook, Stream, Venue, VenueSession};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

/// Book depths Bybit serves on the stream.
const DEPTHS: &[u32] = &[1, 50, 200, 500, 1000];

pub struct Bybit {
    category: String,
}

impl Bybit {
    pub fn for_url(ws_url: &str) -> Bybit {
        let last = ws_url.trim_end_matches('/').rsplit('/').next().unwrap_or("linear");
        let category = if ["spot", "linear", "inverse", "option"].contains(&last) { last } else { "linear" };
        Bybit { category: category.into() }
    }
}

/// The stream depth for a configured snapshot depth: the deepest Bybit has at or below it.
fn stream_depth(wanted: u32) -> u32 {
    DEPTHS.iter().copied().filter(|d| *d <= wanted.max(1)).max().unwrap_or(1)
}

pub struct BybitSession {
    category: String,
    depth: u32,
    books: BookSet<BybitBook>,
    tickers: HashMap<String, Tickers>,
}

fn request(op: &str, args: &[&str], id: u64) -> String {
    serde_json::json!({"req_id": id.to_string(), "op": op, "args": args}).to_string()
}

impl Venue for Bybit {
    type Session = BybitSession;

    fn streams(&self, cfg: &ConnectorConfig) -> Vec<Stream> {
        let has = |c: &str| cfg.channels.iter().any(|x| x == c);
        let depth = stream_depth(cfg.snapshot_depth);
        let mut out = Vec::new();
        for (symbol, _) in &cfg.instruments {
            let mut add = |arg: String, channel| out.push(Stream { symbol: symbol.clone(), channel, arg });
            if has("trades") {
                add(format!("publicTrade.{symbol}"), "trades");
            }
            if has("depth") {
                add(format!("orderbook.{depth}.{symbol}"), "depth");
            }
            if has("mark_price") || has("index_price") || has("funding") {
                add(format!("tickers.{symbol}"), "reference");
            }
        }
        out
    }

    fn args_per_message(&self) -> usize {
        10
    }

    fn subscribe(&self, streams: &[Stream], id: u64) -> String {
        request("subscribe", &streams.iter().map(|s| s.arg.as_str()).collect::<Vec<_>>(), id)
    }

    fn session(&self, cfg: &ConnectorConfig, streams: &[Stream]) -> BybitSession {
        BybitSession {
            category: self.category.clone(),
            depth: stream_depth(cfg.snapshot_depth),
            books: BookSet::new(book_symbols(streams), BybitBook::default),
            tickers: HashMap::new(),
        }
    }

    fn snapshot_path(&self, symbol: &str, depth: u32) -> String {
        format!("/v5/market/orderbook?category={}&symbol={symbol}&limit={depth}", self.category)
    }

    fn rest_book(&self, body: &[u8]) -> Result<RestBook, String> {
        let r: RestOrderbook = serde_json::from_slice(body).map_err(|e| format!("not an orderbook response: {e}"))?;
        Ok(RestBook { last_id: r.result.update_id, bids: r.result.bids, asks: r.result.asks })
    }

    fn instruments_paths(&self, _cfg: &ConnectorConfig) -> Vec<String> {
        vec![format!("/v5/market/instruments-info?category={}&limit=1000", self.category)]
    }

    fn listed_symbols(&self, body: &[u8]) -> Result<Vec<String>, String> {
        let r: InstrumentsInfo =
            serde_json::from_slice(body).map_err(|e| format!("not an instruments-info response: {e}"))?;
        Ok(r.result.list.into_iter().map(|l| l.symbol).collect())
    }
}

/// What a frame is, read without building a JSON tree (its `data` is skipped).
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    op: Option<Cow<'a, str>>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(borrow, default)]
    ret_msg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    topic: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TradePush {
    data: Vec<PublicTrade>,
}

#[derive(Deserialize)]
struct TickersPush {
    #[serde(rename = "type")]
    kind: String,
    ts: i64,
    data: Tickers,
}

impl BybitSession {
    fn orderbook(&mut self, text: &str, received_ms: i64) -> Read {
        let push: OrderbookPush = match parse_text(text) {
            Ok(p) => p,
            Err(garbage) => return Read::frame(garbage),
        };
        let snapshot = push.kind == "snapshot";
        let time = push.cts.unwrap_or(push.ts);
        let frame = match records::book(&self.category, snapshot, &push.data, time, received_ms) {
            Ok(r) => Frame::Records(vec![r]),
            Err(garbage) => return Read::frame(garbage),
        };
        let symbol = push.data.symbol.clone();
        let sync = self.books.get_mut(&symbol).map(|b| vec![(symbol, b.on_push(snapshot, push.data))]);
        Read { frame, sync: sync.unwrap_or_default(), closing: false }
    }

    fn trades(&self, text: &str, received_ms: i64) -> Frame {
        let push: TradePush = match parse_text(text) {
            Ok(p) => p,
            Err(garbage) => return garbage,
        };
        let records = push.data.iter().map(|t| records::trade(&self.category, t, received_ms));
        records.collect::<Result<Vec<_>, _>>().map_or_else(|g| g, Frame::Records)
    }

    fn tickers(&mut self, text: &str, received_ms: i64) -> Frame {
        let push: TickersPush = match parse_text(text) {
            Ok(p) => p,
            Err(garbage) => return garbage,
        };
        let t = push.data;
        if !records::touches_reference(&t) {
            return Frame::Records(Vec::new());
        }
        let fresh = || Tickers { symbol: t.symbol.clone(), ..Tickers::default() };
        let known = self.tickers.entry(t.symbol.clone()).or_insert_with(fresh);
        if push.kind == "snapshot" {
            *known = fresh();
        }
        records::merge(known, t);
        match records::reference(&self.category, known, push.ts, received_ms) {
            Ok(r) => Frame::Records(vec![r]),
            Err(garbage) => garbage,
        }
    }
}

impl VenueSession for BybitSession {
    type Book = BybitBook;

    fn books(&self) -> &BookSet<BybitBook> {
        &self.books
    }

    fn books_mut(&mut self) -> &mut BookSet<BybitBook> {
        &mut self.books
    }

    fn heartbeat(&self) -> Option<(Duration, String)> {
        Some((Duration::from_secs(20), r#"{"op":"ping"}"#.into()))
    }

    fn read(&mut self, text: &str, received_ms: i64) -> Read {
        // Bybit writes `topic` first on data: read off the text; anything else is peeked.
        let topic = match text.strip_prefix(r#"{"topic":""#).and_then(|r| r.split('"').next()) {
            Some(t) => Cow::Borrowed(t),
            None => {
                let peek: Peek = match parse_text(text) {
                    Ok(p) => p,
                    Err(garbage) => return Read::frame(garbage),
                };
                // Acks and pongs: `{"success":..,"op":"subscribe"|"ping",..}` or `{"op":"pong",..}`.
                if let Some(op) = peek.op {
                    return Read::frame(if peek.success == Some(false) {
                        Frame::garbage(GarbageKind::VenueError, format!("{op}: {}", peek.ret_msg.unwrap_or_default()))
                    } else {
                        Frame::Control
                    });
                }
                peek.topic.unwrap_or_default()
            }
        };
        let frame = match topic.split('.').next().unwrap_or_default() {
            "orderbook" => return self.orderbook(text, received_ms),
            "publicTrade" => self.trades(text, received_ms),
            "tickers" => self.tickers(text, received_ms),
            "" => Frame::garbage(GarbageKind::UnknownEvent, "no topic and no op"),
            other => Frame::garbage(GarbageKind::UnknownEvent, format!("topic `{other}`")),
        };
        Read::frame(frame)
    }

    fn repair(&self, symbol: &str) -> Repair {
        let topic = format!("orderbook.{}.{symbol}", self.depth);
        Repair::Resubscribe(vec![request("unsubscribe", &[&topic], 0), request("subscribe", &[&topic], 0)])
    }

    fn on_rest_snapshot(&mut self, _symbol: &str, _snap: &RestBook, _received_ms: i64) -> Read {
        // Bybit books are rebuilt from the snapshot the venue pushes on subscription.
        Read::frame(Frame::Control)
    }
}
