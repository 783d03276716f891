//! A fake Bybit v5 public linear endpoint over the `orderbook_*.jsonl` recordings of a folder
//! (`../shared/fixtures/bybit`, or a synthetic market's): `op: subscribe/unsubscribe/ping`
//! with their acks and pongs, an `orderbook.500.<symbol>` snapshot pushed on every
//! subscription followed by the recorded deltas, and REST `market/orderbook` and
//! `market/instruments-info`.

mod rest;

pub use rest::serve as serve_rest;

use crate::timeline::{Recorded, Timeline};
use crate::ws::{Protocol, Request};
use crate::FakeError;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tickwatch_ingest::bybit::messages::{OrderbookData, OrderbookPush};
use tickwatch_ingest::bybit::BybitBook;

pub struct Market {
    timeline: Arc<Timeline>,
    /// The orderbook push of each frame, by timeline index − 1.
    pushes: Vec<Option<(bool, OrderbookData)>>,
    /// Symbol → the depth its recording has.
    pub depths: HashMap<String, u32>,
    books: Mutex<Books>,
}

#[derive(Default)]
struct Books {
    books: HashMap<String, BybitBook>,
    applied: u64,
}

impl Market {
    pub fn load(folder: &Path, speed: f64) -> Result<Market, FakeError> {
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .map_err(|e| FakeError::recording(folder, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("orderbook_")))
            .collect();
        files.sort();
        let (mut frames, mut pushes, mut depths) = (Vec::new(), Vec::new(), HashMap::new());
        let mut books: HashMap<String, BybitBook> = HashMap::new();
        for path in files {
            for line in crate::read(&path)?.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| FakeError::recording(&path, e))?;
                let topic = v["topic"].as_str().unwrap_or_default();
                if !topic.starts_with("orderbook.") {
                    // Trades and tickers pass through as recorded.
                    frames.push((topic.to_string(), line.to_string(), v["ts"].as_i64().unwrap_or(0)));
                    pushes.push(None);
                    continue;
                }
                let push: OrderbookPush = serde_json::from_value(v).map_err(|e| FakeError::recording(&path, e))?;
                let depth = push.topic.split('.').nth(1).and_then(|d| d.parse().ok()).unwrap_or(500);
                let symbol = push.data.symbol.clone();
                let snapshot = push.kind == "snapshot";
                if !books.contains_key(&symbol) {
                    // The venue's state at the start: pushed again to every subscriber.
                    let mut book = BybitBook::default();
                    book.on_push(true, push.data);
                    books.insert(symbol.clone(), book);
                    depths.insert(symbol, depth);
                    continue;
                }
                frames.push((push.topic.clone(), line.to_string(), push.ts));
                pushes.push(Some((snapshot, push.data)));
            }
        }
        Ok(Market {
            timeline: Arc::new(Timeline::new(frames, speed)),
            pushes,
            depths,
            books: Mutex::new(Books { books, applied: 0 }),
        })
    }

    /// `symbol`'s current book as `{"s","b","a","u","seq","ts","cts"}`, and the index of the
    /// last timeline frame it holds.
    pub fn book(&self, symbol: &str, depth: usize) -> Option<(serde_json::Value, u64)> {
        let b = self.books.lock().expect("lock");
        let book = b.books.get(symbol)?;
        let side = |it: &mut dyn Iterator<Item = &tickwatch_ingest::book::Level>| -> Vec<[String; 2]> {
            it.take(depth).map(|l| [l.price_text.to_string(), l.size_text.to_string()]).collect()
        };
        let u = book.last_id()?;
        let data = serde_json::json!({
            "s": symbol,
            "b": side(&mut book.book().bids()),
            "a": side(&mut book.book().asks()),
            "u": u,
            "seq": u,
        });
        Some((data, b.applied))
    }
}

fn ack(op: &str, req_id: &serde_json::Value, success: bool, msg: &str) -> String {
    let req_id = req_id.as_str().unwrap_or_default();
    serde_json::json!({"success": success, "ret_msg": msg, "conn_id": "f4ke-0001", "req_id": req_id, "op": op})
        .to_string()
}

impl Protocol for Market {
    fn timeline(&self) -> &Arc<Timeline> {
        &self.timeline
    }

    fn apply(&self, f: &Recorded) {
        let mut b = self.books.lock().expect("lock");
        if let Some(Some((snapshot, d))) = self.pushes.get(f.index as usize - 1) {
            if let Some(book) = b.books.get_mut(&d.symbol) {
                book.on_push(*snapshot, d.clone());
            }
        }
        b.applied = f.index;
    }

    fn request(&self, text: &str) -> Request {
        let req: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let op = req["op"].as_str().unwrap_or_default();
        let args: Vec<String> =
            req["args"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(String::from)).collect();
        let reply = |ok, msg| vec![ack(op, &req["req_id"], ok, msg)];
        match op {
            "ping" => Request { replies: reply(true, "pong"), ..Request::default() },
            "subscribe" if !args.is_empty() => {
                Request { replies: reply(true, ""), subscribe: args, ..Request::default() }
            }
            "unsubscribe" if !args.is_empty() => {
                Request { replies: reply(true, ""), unsubscribe: args, ..Request::default() }
            }
            _ => Request { replies: reply(false, "error:handler not found"), ..Request::default() },
        }
    }

    fn snapshot(&self, stream: &str) -> Option<(String, u64)> {
        let mut parts = stream.split('.');
        let (Some("orderbook"), Some(depth), Some(symbol)) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let (data, through) = self.book(symbol, depth.parse().unwrap_or(500))?;
        let now = crate::now_ms();
        let push = serde_json::json!({"topic": stream, "type": "snapshot", "ts": now, "data": data, "cts": now});
        Some((push.to_string(), through))
    }

    fn server_pings(&self) -> bool {
        false
    }

    fn closing_notice(&self) -> Option<String> {
        None
    }
}
