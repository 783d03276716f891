//! The connection loop every venue shares: connect, subscribe (paced, many streams per
//! message and per socket), read frames and publish their records in arrival order, keep
//! each book in sync (REST snapshot or resubscription after any break), check books against
//! REST snapshots every `snapshot_check_period`, keep the socket alive (answer server pings,
//! send the venue's heartbeat when quiet), and reconnect with jittered backoff when the
//! socket drops, stalls, or reaches its lifetime. What happened is counted in the metrics and
//! in the data-quality minutes published to `dq.minute`; a single stream that goes quiet while
//! its socket is open is reported on `signals` ([`crate::silence`]).

use super::check::{BookCheck, Verdict};
use super::rest::{check_listed, fetch_snapshot};
use super::venue::{Read, Repair, RestBook, Stream, Venue, VenueSession};
use super::{Backoff, ConnectorConfig, Reconnect};
use crate::book::{Loss, SyncEvent};
use crate::frame::{Frame, GarbageKind, RawRecord};
use crate::metrics::IngestMetrics;
use crate::publish::Publisher;
use crate::quality::QualityBook;
use crate::silence::{Phase, SilenceDetector, SilenceReport};
use futures_util::{SinkExt, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A resubscription that brought no snapshot in this long is sent again.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(10);

/// How often each connection looks for silent streams.
const SILENCE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Shared by the connections of one venue.
pub(super) struct Shared<V: Venue> {
    pub(super) venue: V,
    pub(super) cfg: ConnectorConfig,
    publisher: Publisher,
    metrics: Arc<IngestMetrics>,
    quality: std::sync::Mutex<QualityBook>,
    /// Garbage kinds already logged at WARN.
    garbage_kinds: std::sync::Mutex<std::collections::HashSet<GarbageKind>>,
    /// Instruments whose trade-id jump was already logged at WARN.
    trade_gap_warned: std::sync::Mutex<std::collections::HashSet<String>>,
    pub(super) http: reqwest::Client,
}

/// A closed minute is published this long after it ends (late frames still count in it).
const QUALITY_GRACE_MS: i64 = 5_000;

/// Why a REST snapshot was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Rebuild,
    Check,
}

/// A REST snapshot fetched for a symbol, and when it was received (ms).
pub(super) type Fetched = (String, Purpose, RestBook, i64);

/// Check that every instrument is listed by the venue (REST instrument metadata), then run
/// every connection until `stop` turns true. An unlisted instrument is an error naming it;
/// an unreachable metadata endpoint is logged and the connections start anyway.
pub async fn run<V: Venue>(
    venue: V,
    cfg: ConnectorConfig,
    publisher: Publisher,
    metrics: Arc<IngestMetrics>,
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client");
    let all = venue.streams(&cfg);
    // One data-quality row per configured instrument and channel (index streams feed the
    // reference rows of the derivatives that follow them).
    let mut rows: Vec<(String, &'static str)> = all
        .iter()
        .filter(|s| s.channel != "index" && cfg.instruments.iter().any(|(sym, _)| *sym == s.symbol))
        .map(|s| (cfg.canonical(&s.symbol).to_string(), s.channel))
        .collect();
    rows.sort();
    rows.dedup();
    let quality = std::sync::Mutex::new(
        QualityBook::new(&cfg.venue, rows, now_ms()).with_contiguous_trades(venue.contiguous_trade_ids()),
    );
    let (garbage_kinds, trade_gap_warned) = Default::default();
    let shared = Arc::new(Shared { venue, cfg, publisher, metrics, quality, garbage_kinds, trade_gap_warned, http });
    check_listed(&shared).await?;
    let per = shared.cfg.max_streams_per_connection.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in all.chunks(per) {
        tasks.spawn(connection(shared.clone(), chunk.to_vec(), stop.clone()));
    }
    let mut flush = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = flush.tick() => publish_quality(&shared, QUALITY_GRACE_MS).await,
            done = tasks.join_next() => if done.is_none() { break },
        }
    }
    // Stopping: the open minute too, so that nothing counted is lost.
    publish_quality(&shared, -1).await;
    Ok(())
}

async fn publish_quality<V: Venue>(shared: &Shared<V>, grace_ms: i64) {
    let rows = shared.quality.lock().expect("quality lock").flush(now_ms(), grace_ms);
    for row in rows {
        shared.publisher.publish_quality(row).await;
    }
}

async fn connection<V: Venue>(shared: Arc<Shared<V>>, streams: Vec<Stream>, mut stop: watch::Receiver<bool>) {
    let c = &shared.cfg;
    let mut backoff = Backoff::new(c.initial_backoff, c.max_backoff, c.jitter);
    let mut dropped_at = None;
    // Outlives each session: the streams' learned intervals are kept over reconnects.
    let mut silence = SilenceDetector::new(&c.venue, c.silence.clone());
    loop {
        let reason = tokio::select! {
            r = session(&shared, &streams, &mut backoff, dropped_at, &mut silence) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        silence.disconnected();
        dropped_at = Some(Instant::now());
        shared.metrics.reconnect(&c.venue, reason.as_str());
        let instruments: Vec<String> = streams.iter().map(|s| c.canonical(&s.symbol).to_string()).collect();
        shared.quality.lock().expect("quality lock").reconnect(now_ms(), &instruments);
        let at_once = matches!(reason, Reconnect::Rotated | Reconnect::VenueClosing);
        let delay = if at_once { Duration::ZERO } else { backoff.next_delay() };
        tracing::warn!(venue = %c.venue, reason = reason.as_str(), delay_ms = delay.as_millis() as u64, "reconnecting");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One connection from connect to its end; returns why it ended. `dropped_at`: when the
/// previous connection ended (the books' resync time counts from there).
async fn session<V: Venue>(
    shared: &Arc<Shared<V>>,
    streams: &[Stream],
    backoff: &mut Backoff,
    dropped_at: Option<Instant>,
    silence: &mut SilenceDetector,
) -> Reconnect {
    let c = &shared.cfg;
    let started = Instant::now();
    let connect = tokio_tungstenite::connect_async(c.ws_url.as_str());
    let mut ws = match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => {
            tracing::warn!(venue = %c.venue, url = %c.ws_url, error = %e, "cannot connect");
            return Reconnect::ConnectFailed;
        }
        Err(_) => return Reconnect::ConnectFailed,
    };
    // Subscribe no faster than the venue allows.
    let pace = Duration::from_secs_f64(1.0 / c.subscribe_per_second.max(1) as f64);
    for (i, chunk) in streams.chunks(shared.venue.args_per_message().max(1)).enumerate() {
        if i > 0 {
            tokio::time::sleep(pace).await;
        }
        if ws.send(Message::text(shared.venue.subscribe(chunk, i as u64 + 1))).await.is_err() {
            return Reconnect::ConnectFailed;
        }
    }
    // Nothing is read while subscribing: the streams' clocks start once every request is out.
    silence.connected(now_ms());
    let mut silence_check = tokio::time::interval(SILENCE_CHECK_EVERY);
    silence_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut state = shared.venue.session(c, streams);
    let book_symbols: Vec<String> = super::book_symbols(streams).collect();
    let (snap_tx, mut snap_rx) = mpsc::channel::<Fetched>(64);
    // Books being rebuilt: since when (REST fetch running, or resubscription sent).
    let mut rebuilding: HashMap<String, Instant> = HashMap::new();
    // Since when each book waits (for the resync time).
    let since = dropped_at.unwrap_or(started);
    let mut waiting_since: HashMap<String, Instant> = book_symbols.iter().map(|s| (s.clone(), since)).collect();
    // Books that had a snapshot on this connection.
    let mut synced: HashSet<String> = HashSet::new();
    let mut check = BookCheck::default();
    let mut next_check = Instant::now() + c.snapshot_check_period;
    let rotate = tokio::time::sleep(c.rotate_after);
    tokio::pin!(rotate);
    let mut first_frame = true;
    // Pings keep a socket open without data; only data frames count against a stall.
    let mut last_data = Instant::now();
    let mut last_frame = Instant::now();
    let heartbeat = state.heartbeat();
    let mut resends = shared.publisher.resends();
    loop {
        if shared.publisher.resends() != resends {
            // Some records were sent again out of order: re-anchor every book's readers.
            resends = shared.publisher.resends();
            tracing::warn!(venue = %c.venue, "records were resent out of order; rebuilding the books from snapshots");
            state.invalidate(None);
        }
        for symbol in state.waiting_books() {
            waiting_since.entry(symbol.clone()).or_insert_with(Instant::now);
            let due = rebuilding.get(&symbol).is_none_or(|t| t.elapsed() > RESUBSCRIBE_AFTER);
            if !due {
                continue;
            }
            match state.repair(&symbol) {
                Repair::RestSnapshot if !rebuilding.contains_key(&symbol) => {
                    rebuilding.insert(symbol.clone(), Instant::now());
                    tokio::spawn(fetch_snapshot(shared.clone(), symbol, Purpose::Rebuild, snap_tx.clone()));
                }
                Repair::RestSnapshot => {}
                Repair::Resubscribe(messages) => {
                    // The first snapshot comes with the subscription itself.
                    if rebuilding.contains_key(&symbol) || synced.contains(&symbol) {
                        tracing::info!(venue = %c.venue, symbol, "subscribing the book again for a fresh snapshot");
                        for m in messages {
                            if ws.send(Message::text(m)).await.is_err() {
                                return Reconnect::Dropped;
                            }
                        }
                    }
                    rebuilding.insert(symbol.clone(), Instant::now());
                }
            }
        }
        let heartbeat_at = heartbeat.as_ref().map_or(last_frame + Duration::from_secs(3600), |(d, _)| last_frame + *d);
        tokio::select! {
            _ = &mut rotate => return Reconnect::Rotated,
            _ = tokio::time::sleep_until(next_check) => {
                next_check = Instant::now() + c.snapshot_check_period;
                for symbol in &book_symbols {
                    if state.book(symbol).is_some() && !check.holds(symbol) {
                        tokio::spawn(fetch_snapshot(shared.clone(), symbol.clone(), Purpose::Check, snap_tx.clone()));
                    }
                }
            }
            Some((symbol, purpose, snap, received)) = snap_rx.recv() => match purpose {
                Purpose::Rebuild => {
                    rebuilding.remove(&symbol);
                    let read = state.on_rest_snapshot(&symbol, &snap, received);
                    on_read(shared, read, received, "", &mut waiting_since).await;
                }
                Purpose::Check => {
                    let at = state.book(&symbol).map(|(id, _)| id);
                    check.hold(symbol, snap, at);
                }
            },
            _ = tokio::time::sleep_until(last_data + c.stall_after) => return Reconnect::Stalled,
            _ = silence_check.tick() => {
                for report in silence.check(now_ms()) {
                    publish_silence(shared, report).await;
                }
            }
            _ = tokio::time::sleep_until(heartbeat_at) => {
                let text = heartbeat.as_ref().map(|(_, t)| t.clone()).unwrap_or_default();
                last_frame = Instant::now();
                if ws.send(Message::text(text)).await.is_err() {
                    return Reconnect::Dropped;
                }
            }
            frame = ws.next() => {
                let msg = match frame {
                    None | Some(Err(_)) => return Reconnect::Dropped,
                    Some(Ok(m)) => m,
                };
                last_frame = Instant::now();
                if first_frame {
                    first_frame = false;
                    backoff.reset();
                }
                match msg {
                    Message::Text(text) => {
                        let received = now_ms();
                        let read = state.read(text.as_str(), received);
                        if read.closing {
                            return Reconnect::VenueClosing;
                        }
                        if let Frame::Records(records) = &read.frame {
                            last_data = Instant::now();
                            for (instrument, channel) in frame_streams(c, records) {
                                if let Some(end) = silence.message(received, &instrument, channel) {
                                    publish_silence(shared, end).await;
                                }
                            }
                        }
                        for (symbol, e) in &read.sync {
                            if matches!(e, SyncEvent::Snapshot { .. }) {
                                rebuilding.remove(symbol);
                                synced.insert(symbol.clone());
                            }
                        }
                        on_read(shared, read, received, text.as_str(), &mut waiting_since).await;
                    }
                    // Answered at once: Binance closes a connection whose pongs stop.
                    Message::Ping(p) if ws.send(Message::Pong(p.clone())).await.is_err() => return Reconnect::Dropped,
                    Message::Close(_) => return Reconnect::Dropped,
                    _ => {}
                }
            }
        }
        for (symbol, verdict) in check.decide(|s| state.book(s)) {
            shared.metrics.book_check(&c.venue, c.canonical(&symbol), verdict.as_str());
            if let Verdict::Diverged(why) = &verdict {
                tracing::warn!(venue = %c.venue, symbol, why, "the book differs from the venue's REST snapshot; rebuilding");
                state.invalidate(Some(&symbol));
            }
        }
    }
}

/// The streams whose data a frame carries, each once: a frame of several trades is one
/// message of its stream (counting each would teach the detector a gap of zero).
fn frame_streams(c: &ConnectorConfig, records: &[RawRecord]) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for r in records {
        let canonical = c.canonical(r.symbol());
        if !out.iter().any(|(i, ch)| i == canonical && *ch == r.channel()) {
            out.push((canonical.to_string(), r.channel()));
        }
    }
    out
}

/// Count and log a silence report, and publish its signal.
async fn publish_silence<V: Venue>(shared: &Shared<V>, report: SilenceReport) {
    let s = &report.signal;
    let channel = s.channel.as_deref().unwrap_or_default();
    let (venue, instrument, silent_ms) = (s.venue.as_str(), s.instrument.as_str(), s.value as i64);
    let usual_gap_ms = report.usual_gap_ms.round() as i64;
    match report.phase {
        Phase::Started => {
            shared.metrics.silence_started(venue, instrument, channel);
            tracing::warn!(
                venue,
                instrument,
                channel,
                silent_ms,
                usual_gap_ms,
                "stream silent while its connection is open"
            );
        }
        Phase::Lasting => tracing::debug!(venue, instrument, channel, silent_ms, "stream still silent"),
        Phase::Ended => tracing::info!(venue, instrument, channel, usual_gap_ms, "silent stream speaks again"),
    }
    shared.publisher.publish_signal(report.signal).await;
}

/// Publish a frame's records in order, count what happened, and time each book's resync.
async fn on_read<V: Venue>(
    shared: &Shared<V>,
    read: Read,
    received: i64,
    text: &str,
    waiting_since: &mut HashMap<String, Instant>,
) {
    let c = &shared.cfg;
    match read.frame {
        Frame::Records(records) => {
            for r in records {
                let canonical = c.canonical(r.symbol());
                let lag = received - r.event_time_us() / 1000;
                shared.metrics.message(&c.venue, canonical, r.channel(), lag);
                let seq = match &r {
                    RawRecord::Trade(t) => t.sequence,
                    _ => None,
                };
                let missed =
                    shared.quality.lock().expect("quality lock").message(received, canonical, r.channel(), lag, seq);
                if let Some(n) = missed {
                    shared.metrics.trade_gap(&c.venue, canonical, n as u64);
                    // The first jump of each instrument at WARN, the rest at DEBUG: a
                    // reconnect of hundreds of instruments would otherwise log hundreds of lines.
                    if shared.trade_gap_warned.lock().expect("gap lock").insert(canonical.to_string()) {
                        tracing::warn!(venue = %c.venue, instrument = canonical, missed = n, next = seq, "trade sequence jumped: trades missed (each jump is counted in dq.minute and trades_missed_total; the next ones of this instrument are logged at debug)");
                    } else {
                        tracing::debug!(venue = %c.venue, instrument = canonical, missed = n, next = seq, "trade sequence jumped");
                    }
                }
                shared.publisher.publish(r).await;
            }
        }
        Frame::Control => {}
        Frame::Garbage { kind, detail } => {
            shared.metrics.garbage(&c.venue, kind.as_str());
            let text: String = text.chars().take(200).collect();
            // The first of each kind at WARN with the frame; the rest counted (and at DEBUG).
            if shared.garbage_kinds.lock().expect("garbage lock").insert(kind) {
                tracing::warn!(venue = %c.venue, kind = kind.as_str(), detail, frame = %text, "garbage frame (first of its kind; the others are counted in ws_garbage_frames_total and logged at debug); connection goes on");
            } else {
                tracing::debug!(venue = %c.venue, kind = kind.as_str(), detail, frame = %text, "garbage frame");
            }
        }
    }
    for (symbol, e) in &read.sync {
        let canonical = c.canonical(symbol);
        match e {
            SyncEvent::Gap { expected, got, loss } => {
                shared.metrics.gap(&c.venue, canonical, loss.as_str());
                let lost = match loss {
                    Loss::Exact(n) => Some(*n),
                    Loss::Unknown => None,
                };
                shared.quality.lock().expect("quality lock").gap(received, canonical, lost);
                waiting_since.insert(symbol.clone(), Instant::now());
                tracing::warn!(venue = %c.venue, instrument = canonical, expected, got, loss = loss.as_str(), "book sequence break; rebuilding");
            }
            SyncEvent::ChecksumMismatch { venue, ours } => {
                shared.metrics.gap(&c.venue, canonical, "checksum");
                shared.quality.lock().expect("quality lock").gap(received, canonical, None);
                waiting_since.insert(symbol.clone(), Instant::now());
                tracing::warn!(venue = %c.venue, instrument = canonical, venue_checksum = venue, ours, "book checksum mismatch; rebuilding");
            }
            SyncEvent::Rejected { why } => {
                tracing::warn!(venue = %c.venue, instrument = canonical, why, "book message unusable; rebuilding");
            }
            SyncEvent::Snapshot { .. } => {
                let waited = waiting_since.remove(symbol).map(|t| t.elapsed());
                shared.metrics.resync(&c.venue, canonical, waited);
                shared.quality.lock().expect("quality lock").resync(received, canonical);
            }
            _ => {}
        }
    }
}
