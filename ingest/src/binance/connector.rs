//! The Binance connector: per connection, subscribe (paced), read frames, publish raw
//! records, keep each book in sync (REST snapshot at start and after any break), answer
//! pings, and reconnect with backoff when the socket drops, stalls, or reaches its lifetime.

use super::book::{BinanceBook, Market};
use super::messages::{DepthSnapshot, DepthUpdate};
use super::records::{read_frame, snapshot_record, Source, SPOT, USDM};
use super::streams;
use crate::book::SyncEvent;
use crate::frame::{Frame, RawRecord};
use crate::metrics::IngestMetrics;
use crate::publish::Publisher;
use crate::session::{Backoff, ConnectorConfig, Reconnect};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Shared by the connections of one venue.
struct Shared {
    cfg: ConnectorConfig,
    source: Source,
    market: Market,
    publisher: Publisher,
    metrics: Arc<IngestMetrics>,
    http: reqwest::Client,
}

/// Run every connection of the venue until `stop` turns true.
pub async fn run(cfg: ConnectorConfig, publisher: Publisher, metrics: Arc<IngestMetrics>, stop: watch::Receiver<bool>) {
    let (source, market) = if cfg.venue == "binance-usdm" { (USDM, Market::UsdM) } else { (SPOT, Market::Spot) };
    let all = streams::streams(&cfg);
    let per = cfg.max_streams_per_connection.max(1);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client");
    let shared = Arc::new(Shared { cfg, source, market, publisher, metrics, http });
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in all.chunks(per) {
        tasks.spawn(connection(shared.clone(), chunk.to_vec(), stop.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

async fn connection(shared: Arc<Shared>, streams: Vec<String>, mut stop: watch::Receiver<bool>) {
    let c = &shared.cfg;
    let mut backoff = Backoff::new(c.initial_backoff, c.max_backoff, c.jitter);
    loop {
        let reason = tokio::select! {
            r = session(&shared, &streams, &mut backoff) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        shared.metrics.reconnect(&c.venue, reason.as_str());
        let delay = if reason == Reconnect::Rotated { Duration::ZERO } else { backoff.next_delay() };
        tracing::warn!(venue = %c.venue, reason = reason.as_str(), delay_ms = delay.as_millis() as u64, "reconnecting");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One connection from connect to its end; returns why it ended.
async fn session(shared: &Shared, streams: &[String], backoff: &mut Backoff) -> Reconnect {
    let c = &shared.cfg;
    let connect = tokio_tungstenite::connect_async(c.ws_url.as_str());
    let mut ws = match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => {
            tracing::warn!(venue = %c.venue, url = %c.ws_url, error = %e, "cannot connect");
            return Reconnect::ConnectFailed;
        }
        Err(_) => return Reconnect::ConnectFailed,
    };
    // Subscribe in messages of at most 100 streams, no faster than the venue allows.
    let pace = Duration::from_secs_f64(1.0 / c.subscribe_per_second.max(1) as f64);
    for (i, chunk) in streams.chunks(100).enumerate() {
        if i > 0 {
            tokio::time::sleep(pace).await;
        }
        if ws.send(Message::text(streams::subscribe(chunk, i as u64 + 1))).await.is_err() {
            return Reconnect::ConnectFailed;
        }
    }
    let depth_symbols: BTreeSet<String> = streams
        .iter()
        .filter(|s| s.contains("@depth"))
        .map(|s| s.split('@').next().unwrap_or_default().to_uppercase())
        .collect();
    let mut books: HashMap<String, BinanceBook> =
        depth_symbols.iter().map(|s| (s.clone(), BinanceBook::new(shared.market))).collect();
    let (snap_tx, mut snap_rx) = mpsc::channel::<(String, DepthSnapshot, i64)>(64);
    let mut fetching: BTreeSet<String> = BTreeSet::new();
    let rotate = tokio::time::sleep(c.rotate_after);
    tokio::pin!(rotate);
    let mut first_frame = true;
    // Pings keep a socket open without data; only data frames count against a stall.
    let mut last_data = tokio::time::Instant::now();
    let mut resends = shared.publisher.resends();
    loop {
        if shared.publisher.resends() != resends {
            // Some records were sent again out of order: re-anchor every book's readers.
            resends = shared.publisher.resends();
            for (symbol, book) in books.iter_mut() {
                tracing::warn!(venue = %c.venue, symbol, "records were resent out of order; rebuilding the book from a snapshot");
                book.invalidate();
            }
        }
        for (symbol, book) in &books {
            if book.needs_snapshot() && fetching.insert(symbol.clone()) {
                tokio::spawn(fetch_snapshot(shared.http.clone(), shared.cfg.clone(), symbol.clone(), snap_tx.clone()));
            }
        }
        tokio::select! {
            _ = &mut rotate => return Reconnect::Rotated,
            Some((symbol, snap, received)) = snap_rx.recv() => {
                fetching.remove(&symbol);
                let Some(book) = books.get_mut(&symbol) else { continue };
                let canonical = c.canonical(&symbol).to_string();
                match snapshot_record(shared.source, &symbol, &snap, received) {
                    Ok(record) => shared.publisher.publish(RawRecord::Book(record)).await,
                    Err(e) => tracing::warn!(venue = %c.venue, symbol, frame = ?e, "unusable snapshot"),
                }
                for e in book.on_snapshot(&snap) {
                    count_sync(shared, &canonical, &e);
                }
            }
            _ = tokio::time::sleep_until(last_data + c.stall_after) => return Reconnect::Stalled,
            frame = ws.next() => {
                let msg = match frame {
                    None | Some(Err(_)) => return Reconnect::Dropped,
                    Some(Ok(m)) => m,
                };
                if first_frame {
                    first_frame = false;
                    backoff.reset();
                }
                match msg {
                    Message::Text(text) => {
                        last_data = tokio::time::Instant::now();
                        on_text(shared, &mut books, text.as_str()).await
                    }
                    // Answered at once: Binance closes a connection whose pongs stop.
                    Message::Ping(p) if ws.send(Message::Pong(p.clone())).await.is_err() => return Reconnect::Dropped,
                    Message::Close(_) => return Reconnect::Dropped,
                    _ => {}
                }
            }
        }
    }
}

async fn on_text(shared: &Shared, books: &mut HashMap<String, BinanceBook>, text: &str) {
    let c = &shared.cfg;
    let received = now_ms();
    match read_frame(shared.source, text, received) {
        Frame::Records(records) => {
            for r in records {
                let canonical = c.canonical(r.symbol()).to_string();
                shared.metrics.message(&c.venue, &canonical, r.channel(), received - r.event_time_us() / 1000);
                if let RawRecord::Book(b) = &r {
                    if let Some(book) = books.get_mut(&b.symbol) {
                        let e = book.on_update(DepthUpdate::from_raw(b));
                        count_sync(shared, &canonical, &e);
                    }
                }
                shared.publisher.publish(r).await;
            }
        }
        Frame::Control => {}
        Frame::Garbage { kind, detail } => {
            shared.metrics.garbage(&c.venue, kind.as_str());
            let text: String = text.chars().take(200).collect();
            tracing::warn!(venue = %c.venue, kind = kind.as_str(), detail, frame = %text, "garbage frame kept in the log; connection goes on");
        }
    }
}

fn count_sync(shared: &Shared, canonical: &str, e: &SyncEvent) {
    let venue = &shared.cfg.venue;
    match e {
        SyncEvent::Gap { expected, got, loss } => {
            shared.metrics.gap(venue, canonical, loss.as_str());
            tracing::warn!(
                venue,
                instrument = canonical,
                expected,
                got,
                loss = loss.as_str(),
                "book sequence break; rebuilding"
            );
        }
        SyncEvent::Snapshot { .. } => shared.metrics.resync(venue, canonical),
        _ => {}
    }
}

/// GET the depth snapshot, retrying until it comes (the book waits for it).
async fn fetch_snapshot(
    http: reqwest::Client,
    cfg: ConnectorConfig,
    symbol: String,
    tx: mpsc::Sender<(String, DepthSnapshot, i64)>,
) {
    let url = format!("{}{}", cfg.rest_url, streams::depth_path(&cfg.venue, &symbol, cfg.snapshot_depth));
    let mut backoff = Backoff::new(cfg.initial_backoff, cfg.max_backoff, cfg.jitter);
    loop {
        let got = async { http.get(&url).send().await?.error_for_status()?.json::<DepthSnapshot>().await }.await;
        match got {
            Ok(snap) => {
                let _ = tx.send((symbol, snap, now_ms())).await;
                return;
            }
            Err(e) => {
                tracing::warn!(venue = %cfg.venue, url, error = %e, "depth snapshot failed; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
                if tx.is_closed() {
                    return;
                }
            }
        }
    }
}
