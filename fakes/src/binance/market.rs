//! The fake Binance's market: the recording's frames on one timeline, and each symbol's
//! book, which starts from its recorded REST snapshot and follows the depth frames sent, so
//! that the REST depth endpoint always answers with a snapshot consistent with the stream.

use crate::timeline::{FrameSource, Recorded, Timeline};
use crate::ws::{Protocol, Request};
use crate::FakeError;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tickwatch_ingest::binance::messages::{unwrap_stream, DepthSnapshot, DepthUpdate};
use tickwatch_ingest::binance::{BinanceBook, Market as BookMarket};

pub struct Market {
    timeline: Arc<Timeline>,
    /// The diff of each depth frame, by timeline index − 1, read once at load.
    diffs: Vec<Option<DepthUpdate>>,
    pub exchange_info: Option<String>,
    books: Mutex<HashMap<String, BinanceBook>>,
}

impl Market {
    pub fn load(folder: &Path, speed: f64) -> Result<Market, FakeError> {
        let usdm = folder.to_string_lossy().contains("usdm");
        let path = folder.join("ws_combined_stream_recording.jsonl");
        let text = crate::read(&path)?;
        let mut books: HashMap<String, BinanceBook> = HashMap::new();
        let (mut frames, mut diffs) = (Vec::new(), Vec::new());
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| FakeError::recording(&path, e))?;
            let stream = v["stream"].as_str().unwrap_or_default().to_string();
            let data = unwrap_stream(&v);
            let event_ms = data["E"].as_i64().unwrap_or(0);
            let mut diff = None;
            if stream.contains("@depth") {
                let u = DepthUpdate::deserialize(data).map_err(|e| FakeError::recording(&path, e))?;
                let symbol = u.symbol.clone();
                if !books.contains_key(&symbol) {
                    let snap_path = folder.join(format!("rest_depth_snapshot_{symbol}.json"));
                    let snap: DepthSnapshot = serde_json::from_str(&crate::read(&snap_path)?)
                        .map_err(|e| FakeError::recording(&snap_path, e))?;
                    let mut book = BinanceBook::new(if usdm { BookMarket::UsdM } else { BookMarket::Spot });
                    book.on_snapshot(&snap);
                    books.insert(symbol.clone(), book);
                }
                // Diffs wholly before the recorded snapshot are not replayed: the fake's
                // stream begins where its book does.
                if books[&symbol].last_id().is_some_and(|id| u.last_id < id) {
                    continue;
                }
                diff = Some(u);
            }
            frames.push((stream, line.to_string(), event_ms));
            diffs.push(diff);
        }
        Ok(Market {
            timeline: Arc::new(Timeline::new(frames, speed)),
            diffs,
            exchange_info: std::fs::read_to_string(folder.join("rest_exchangeInfo.json")).ok(),
            books: Mutex::new(books),
        })
    }

    /// A market of trades only, made as it is played (`Timeline::streaming`): it holds no
    /// frame, and has no books and no trade history for the REST k-lines.
    pub fn streaming(symbols: &[String], source: FrameSource, speed: f64) -> Market {
        let listed: Vec<_> = symbols.iter().map(|s| serde_json::json!({"symbol": s})).collect();
        Market {
            timeline: Arc::new(Timeline::streaming(source, speed)),
            diffs: Vec::new(),
            exchange_info: Some(serde_json::json!({ "symbols": listed }).to_string()),
            books: Mutex::new(HashMap::new()),
        }
    }

    /// The current book of `symbol` as the REST depth endpoint answers it.
    pub fn depth(&self, symbol: &str, limit: usize) -> Option<serde_json::Value> {
        let books = self.books.lock().expect("lock");
        let book = books.get(symbol)?;
        let side = |levels: &mut dyn Iterator<Item = &tickwatch_ingest::book::Level>| -> Vec<[String; 2]> {
            levels.take(limit).map(|l| [l.price_text.to_string(), l.size_text.to_string()]).collect()
        };
        Some(serde_json::json!({
            "lastUpdateId": book.last_id()?,
            "bids": side(&mut book.book().bids()),
            "asks": side(&mut book.book().asks()),
        }))
    }
}

impl Protocol for Market {
    fn timeline(&self) -> &Arc<Timeline> {
        &self.timeline
    }

    fn apply(&self, f: &Recorded) {
        if let Some(Some(u)) = self.diffs.get(f.index as usize - 1) {
            if let Some(book) = self.books.lock().expect("lock").get_mut(&u.symbol) {
                book.on_update(u.clone());
            }
        }
    }

    /// `{"method":"SUBSCRIBE"|"UNSUBSCRIBE","params":[..],"id":N}` → `{"result":null,"id":N}`.
    fn request(&self, text: &str) -> Request {
        let Ok(req) = serde_json::from_str::<serde_json::Value>(text) else { return Request::default() };
        let params: Vec<String> =
            req["params"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect();
        let ack = serde_json::json!({"result": null, "id": req["id"]}).to_string();
        match req["method"].as_str() {
            Some("SUBSCRIBE") => Request { replies: vec![ack], subscribe: params, ..Request::default() },
            Some("UNSUBSCRIBE") => Request { replies: vec![ack], unsubscribe: params, ..Request::default() },
            _ => Request {
                replies: vec![
                    serde_json::json!({"error": {"code": 2, "msg": "Invalid request"}, "id": req["id"]}).to_string()
                ],
                ..Request::default()
            },
        }
    }

    fn snapshot(&self, _stream: &str) -> Option<(String, u64)> {
        None
    }

    fn server_pings(&self) -> bool {
        true
    }

    fn closing_notice(&self) -> Option<String> {
        Some(
            serde_json::json!({"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": crate::now_ms()}})
                .to_string(),
        )
    }
}
