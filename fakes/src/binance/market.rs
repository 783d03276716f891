//! The fake's market: one timeline over the recording's frames in arrival order, started by
//! the first subscription and shared by every connection (a reconnecting client finds the
//! market moved on, as on the real venue). Each symbol's book starts from its recorded REST
//! snapshot and follows the depth frames sent, so the REST depth endpoint always answers
//! with a snapshot consistent with the stream.

use super::FakeError;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tickwatch_ingest::binance::messages::{unwrap_stream, DepthSnapshot, DepthUpdate};
use tickwatch_ingest::binance::{BinanceBook, Market as BookMarket};
use tokio::sync::broadcast;

/// A recorded frame: its stream name, the frame text, its event time (ms), and for depth
/// streams the diff, read once at load for the fake's own book.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub stream: String,
    pub text: String,
    pub event_ms: i64,
    pub depth: Option<DepthUpdate>,
}

pub struct Market {
    frames: Vec<Arc<Recorded>>,
    pub exchange_info: Option<String>,
    books: Mutex<HashMap<String, BinanceBook>>,
    speed: f64,
    tx: broadcast::Sender<Arc<Recorded>>,
    started: Mutex<bool>,
}

fn recording_error(path: &Path, error: impl ToString) -> FakeError {
    FakeError::Recording { path: path.display().to_string(), error: error.to_string() }
}

impl Market {
    pub fn load(folder: &Path, speed: f64) -> Result<Market, FakeError> {
        let usdm = folder.to_string_lossy().contains("usdm");
        let path = folder.join("ws_combined_stream_recording.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|e| recording_error(&path, e))?;
        let mut books: HashMap<String, BinanceBook> = HashMap::new();
        let mut frames = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| recording_error(&path, e))?;
            let stream = v["stream"].as_str().unwrap_or_default().to_string();
            let data = unwrap_stream(&v);
            let event_ms = data["E"].as_i64().unwrap_or(0);
            let mut depth = None;
            if stream.contains("@depth") {
                let u = DepthUpdate::deserialize(data).map_err(|e| recording_error(&path, e))?;
                let symbol = u.symbol.clone();
                if !books.contains_key(&symbol) {
                    let snap_path = folder.join(format!("rest_depth_snapshot_{symbol}.json"));
                    let snap = std::fs::read_to_string(&snap_path).map_err(|e| recording_error(&snap_path, e))?;
                    let snap: DepthSnapshot =
                        serde_json::from_str(&snap).map_err(|e| recording_error(&snap_path, e))?;
                    let mut book = BinanceBook::new(if usdm { BookMarket::UsdM } else { BookMarket::Spot });
                    book.on_snapshot(&snap);
                    books.insert(symbol.clone(), book);
                }
                // Diffs wholly before the recorded snapshot are not replayed: the fake's
                // stream begins where its book does.
                if books[&symbol].last_id().is_some_and(|id| u.last_id < id) {
                    continue;
                }
                depth = Some(u);
            }
            frames.push(Arc::new(Recorded { stream, text: line.to_string(), event_ms, depth }));
        }
        let info_path = folder.join("rest_exchangeInfo.json");
        let (tx, _) = broadcast::channel(1 << 16);
        Ok(Market {
            frames,
            exchange_info: std::fs::read_to_string(info_path).ok(),
            books: Mutex::new(books),
            speed,
            tx,
            started: Mutex::new(false),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Recorded>> {
        self.tx.subscribe()
    }

    /// Start the timeline (once); called when a connection subscribes.
    pub fn start(self: &Arc<Self>) {
        let mut started = self.started.lock().expect("lock");
        if !*started {
            *started = true;
            let me = self.clone();
            tokio::spawn(async move { me.play().await });
        }
    }

    async fn play(&self) {
        // Let the subscribing connection register its receiver first.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut previous: Option<i64> = None;
        for f in &self.frames {
            if self.speed > 0.0 {
                if let Some(p) = previous {
                    let gap = (f.event_ms - p).clamp(0, 5_000) as f64 / self.speed;
                    tokio::time::sleep(Duration::from_secs_f64(gap / 1000.0)).await;
                }
                previous = Some(f.event_ms);
            } else {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if let Some(u) = &f.depth {
                if let Some(book) = self.books.lock().expect("lock").get_mut(&u.symbol) {
                    book.on_update(u.clone());
                }
            }
            let _ = self.tx.send(f.clone());
        }
        tracing::info!(frames = self.frames.len(), "fake venue: recording fully replayed");
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
