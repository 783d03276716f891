//! The WebSocket side every fake shares: a venue's requests are answered by its
//! [`Protocol`]; frames of the subscribed streams are forwarded from the timeline through the
//! connection's faults; a subscription to a book stream first gets the venue's snapshot (the
//! timeline frames it already contains are then skipped). A client too slow for the
//! timeline is disconnected, as the venues do.

use crate::faults::{Action, FaultCounter, Faults};
use crate::timeline::{Recorded, Timeline};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// What a client's message asks for.
#[derive(Debug, Default)]
pub struct Request {
    /// Sent back at once (acks, pongs, errors).
    pub replies: Vec<String>,
    pub subscribe: Vec<String>,
    pub unsubscribe: Vec<String>,
}

/// A venue's side of the conversation.
pub trait Protocol: Send + Sync + 'static {
    fn timeline(&self) -> &Arc<Timeline>;
    /// Keep the venue's state (its books) in step with a frame about to be sent.
    fn apply(&self, f: &Recorded);
    /// Start the timeline (once), applying each frame before it is sent.
    fn start(self: &Arc<Self>)
    where
        Self: Sized,
    {
        let me = self.clone();
        self.timeline().start(move |f| me.apply(f));
    }
    fn request(&self, text: &str) -> Request;
    /// For a book stream: the snapshot frame and the last timeline index it contains.
    fn snapshot(&self, stream: &str) -> Option<(String, u64)>;
    /// True where the server pings (Binance); elsewhere the client does.
    fn server_pings(&self) -> bool;
    /// What the venue sends before it closes a connection at the end of its lifetime.
    fn closing_notice(&self) -> Option<String>;
}

pub async fn accept_loop<P: Protocol>(listener: tokio::net::TcpListener, venue: Arc<P>, faults: Arc<Faults>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (venue, faults) = (venue.clone(), faults.clone());
        tokio::spawn(async move {
            if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                connection(ws, venue, faults).await;
            }
        });
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connection<P: Protocol>(ws: Ws, venue: Arc<P>, faults: Arc<Faults>) {
    let (mut tx, mut rx) = ws.split();
    let mut frames = venue.timeline().receiver();
    // Subscribed streams, with the last timeline index their snapshot already holds.
    let mut streams: HashMap<String, u64> = HashMap::new();
    let mut out = Forwarded::default();
    let ping_every = if faults.ping_every.is_zero() { std::time::Duration::from_secs(20) } else { faults.ping_every };
    let mut ping = tokio::time::interval(ping_every);
    let lifetime = tokio::time::sleep_until(
        faults.lifetime.map_or_else(|| Instant::now() + std::time::Duration::from_secs(86_400), |l| Instant::now() + l),
    );
    tokio::pin!(lifetime);
    loop {
        tokio::select! {
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let req = venue.request(text.as_str());
                    for r in req.replies {
                        if tx.send(Message::text(r)).await.is_err() {
                            return;
                        }
                    }
                    for s in req.unsubscribe {
                        streams.remove(&s);
                    }
                    for s in req.subscribe {
                        let through = match venue.snapshot(&s) {
                            Some((snap, through)) => {
                                if tx.send(Message::text(snap)).await.is_err() {
                                    return;
                                }
                                through
                            }
                            None => 0,
                        };
                        streams.insert(s, through);
                        venue.start();
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => {}
            },
            _ = ping.tick(), if venue.server_pings() => {
                if tx.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            _ = &mut lifetime => {
                if let Some(notice) = venue.closing_notice() {
                    let _ = tx.send(Message::text(notice)).await;
                }
                let _ = tx.close().await;
                return;
            }
            frame = frames.recv() => {
                // Frames already due are written together and flushed once: one write per
                // burst instead of one per frame (at 50 k frames a second the fake shares
                // the two cores with what it measures).
                let mut next = frame.ok();
                let mut fed = 0;
                while let Some(f) = next.take() {
                    if !out.forward(&mut tx, f, &streams, &faults).await {
                        return;
                    }
                    fed += 1;
                    if fed < FRAMES_PER_WRITE {
                        next = match frames.try_recv() {
                            Ok(f) => Some(f),
                            Err(TryRecvError::Empty) => None,
                            Err(TryRecvError::Lagged(_) | TryRecvError::Closed) => {
                                // What was fed still goes out before the connection ends.
                                let _ = tx.flush().await;
                                return;
                            }
                        };
                    }
                }
                if fed == 0 || tx.flush().await.is_err() {
                    // Nothing came: the receiver lagged or the timeline ended.
                    return;
                }
            }
        }
    }
}

/// Most frames written before one flush.
const FRAMES_PER_WRITE: usize = 256;

type Sink = futures_util::stream::SplitSink<Ws, Message>;

/// A connection's fault state as its frames are forwarded.
#[derive(Default)]
struct Forwarded {
    counter: FaultCounter,
    /// A frame kept back to be sent after the next one.
    held: Option<Arc<Recorded>>,
    /// Stalled: no more frames on this connection.
    stalled: bool,
}

impl Forwarded {
    /// Queue `f` on the socket (not flushed) as the faults say, if its stream is subscribed
    /// and its snapshot does not already hold it; false when the connection is over.
    async fn forward(
        &mut self,
        tx: &mut Sink,
        f: Arc<Recorded>,
        streams: &HashMap<String, u64>,
        faults: &Faults,
    ) -> bool {
        if self.stalled || streams.get(&f.stream).is_none_or(|through| f.index <= *through) {
            return true;
        }
        match self.counter.next(faults) {
            Action::Drop => true,
            Action::Disconnect => {
                let _ = tx.close().await;
                false
            }
            Action::Stall => {
                self.stalled = true;
                true
            }
            // Sent after the next frame: the two arrive swapped.
            Action::Hold => match self.held.replace(f) {
                Some(h) => tx.feed(Message::text(h.text.clone())).await.is_ok(),
                None => true,
            },
            Action::Send { garbage_first, twice } => {
                if garbage_first && tx.feed(Message::text("{\"stream\": not json")).await.is_err() {
                    return false;
                }
                let mut out = vec![f.text.clone(); if twice { 2 } else { 1 }];
                if let Some(h) = self.held.take() {
                    out.push(h.text.clone());
                }
                for text in out {
                    if tx.feed(Message::text(text)).await.is_err() {
                        return false;
                    }
                }
                true
            }
        }
    }
}
