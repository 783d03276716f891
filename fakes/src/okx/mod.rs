//! A fake OKX v5 public endpoint over `../shared/fixtures/okx/ws_public_recording.jsonl`:
//! `op: subscribe/unsubscribe` with their event acks, the text `ping`/`pong`, a `books`
//! snapshot pushed on every books subscription (seqId, checksum) followed by the recorded
//! updates, the service-upgrade notice before a lifetime close, and REST `market/books` and
//! `public/instruments`. The recording predates `seqId`; the fake numbers the updates
//! (`seqId`, `prevSeqId`) as the current API does, so a lost update breaks the chain.

mod rest;

pub use rest::serve as serve_rest;

use crate::timeline::{Recorded, Timeline};
use crate::ws::{Protocol, Request};
use crate::FakeError;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tickwatch_ingest::okx::checksum::checksum;
use tickwatch_ingest::okx::messages::{BooksData, BooksPush};
use tickwatch_ingest::okx::OkxBook;

/// Where the fake's numbering of book updates starts.
const FIRST_SEQ: i64 = 1_000;

pub struct Market {
    timeline: Arc<Timeline>,
    /// The books update of each frame, by timeline index − 1.
    updates: Vec<Option<(String, BooksData)>>,
    pub instruments: BTreeSet<String>,
    books: Mutex<Books>,
}

#[derive(Default)]
struct Books {
    books: HashMap<String, OkxBook>,
    /// The last timeline index applied to the books.
    applied: u64,
}

fn key(channel: &str, inst_id: &str) -> String {
    format!("{channel}:{inst_id}")
}

impl Market {
    pub fn load(folder: &Path, speed: f64) -> Result<Market, FakeError> {
        let path = folder.join("ws_public_recording.jsonl");
        let text = crate::read(&path)?;
        let bad = |e: serde_json::Error| FakeError::recording(&path, e);
        let (mut frames, mut updates) = (Vec::new(), Vec::new());
        let mut books: HashMap<String, OkxBook> = HashMap::new();
        let mut seq: HashMap<String, i64> = HashMap::new();
        let mut instruments = BTreeSet::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut v: serde_json::Value = serde_json::from_str(line).map_err(bad)?;
            if v.get("event").is_some() {
                continue;
            }
            let (channel, inst) =
                (v["arg"]["channel"].as_str().unwrap_or_default(), v["arg"]["instId"].as_str().unwrap_or_default());
            let (channel, inst) = (channel.to_string(), inst.to_string());
            instruments.insert(inst.clone());
            let event_ms = v["data"][0]["ts"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
            let mut update = None;
            if channel == "books" {
                let push: BooksPush = serde_json::from_value(v.clone()).map_err(bad)?;
                let Some(mut d) = push.data.into_iter().next() else { continue };
                if push.action == "snapshot" {
                    // The venue's state at the start, numbered like the updates after it.
                    (d.seq_id, d.prev_seq_id) = (Some(FIRST_SEQ), Some(-1));
                    books.entry(inst.clone()).or_default().on_push(true, &d);
                    seq.insert(inst.clone(), FIRST_SEQ);
                    continue;
                }
                let n = seq.entry(inst.clone()).or_insert(FIRST_SEQ);
                *n += 1;
                v["data"][0]["seqId"] = (*n).into();
                v["data"][0]["prevSeqId"] = (*n - 1).into();
                let numbered: BooksData = serde_json::from_value(v["data"][0].clone()).map_err(bad)?;
                update = Some((inst.clone(), numbered));
            }
            frames.push((key(&channel, &inst), v.to_string(), event_ms));
            updates.push(update);
        }
        Ok(Market {
            timeline: Arc::new(Timeline::new(frames, speed)),
            updates,
            instruments,
            books: Mutex::new(Books { books, applied: 0 }),
        })
    }

    /// `inst`'s current book: levels (as `[px, sz, "0", orders]`), seqId, and the index of
    /// the last timeline frame it holds.
    pub fn book(&self, inst: &str, depth: usize) -> Option<(serde_json::Value, u64)> {
        let b = self.books.lock().expect("lock");
        let book = b.books.get(inst)?;
        let side = |it: &mut dyn Iterator<Item = &tickwatch_ingest::book::Level>| -> Vec<[String; 4]> {
            it.take(depth)
                .map(|l| [l.price_text.to_string(), l.size_text.to_string(), "0".into(), "1".into()])
                .collect()
        };
        let data = serde_json::json!({
            "asks": side(&mut book.book().asks()),
            "bids": side(&mut book.book().bids()),
            "ts": crate::now_ms().to_string(),
            "checksum": checksum(book.book()),
            "seqId": book.last_seq()?,
            "prevSeqId": -1,
        });
        Some((data, b.applied))
    }
}

impl Protocol for Market {
    fn timeline(&self) -> &Arc<Timeline> {
        &self.timeline
    }

    fn apply(&self, f: &Recorded) {
        let mut b = self.books.lock().expect("lock");
        if let Some(Some((inst, d))) = self.updates.get(f.index as usize - 1) {
            if let Some(book) = b.books.get_mut(inst) {
                book.on_push(false, d);
            }
        }
        b.applied = f.index;
    }

    fn request(&self, text: &str) -> Request {
        if text == "ping" {
            return Request { replies: vec!["pong".into()], ..Request::default() };
        }
        let req: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let op = req["op"].as_str().unwrap_or_default();
        let args = req["args"].as_array().cloned().unwrap_or_default();
        if !["subscribe", "unsubscribe"].contains(&op) || args.is_empty() {
            let error = serde_json::json!({"event": "error", "code": "60012", "msg": format!("Invalid request: {text}"), "connId": "f4ke0001"});
            return Request { replies: vec![error.to_string()], ..Request::default() };
        }
        let mut r = Request::default();
        for a in args {
            let k = key(a["channel"].as_str().unwrap_or_default(), a["instId"].as_str().unwrap_or_default());
            r.replies.push(serde_json::json!({"event": op, "arg": a, "connId": "f4ke0001"}).to_string());
            if op == "subscribe" {
                r.subscribe.push(k)
            } else {
                r.unsubscribe.push(k)
            }
        }
        r
    }

    fn snapshot(&self, stream: &str) -> Option<(String, u64)> {
        let inst = stream.strip_prefix("books:")?;
        let (data, through) = self.book(inst, 400)?;
        let push =
            serde_json::json!({"arg": {"channel": "books", "instId": inst}, "action": "snapshot", "data": [data]});
        Some((push.to_string(), through))
    }

    fn server_pings(&self) -> bool {
        false
    }

    fn closing_notice(&self) -> Option<String> {
        let msg = "The connection will soon be closed for a service upgrade. Please reconnect.";
        Some(serde_json::json!({"event": "notice", "code": "64008", "msg": msg, "connId": "f4ke0001"}).to_string())
    }
}
