//! The WebSocket side: SUBSCRIBE requests are acknowledged `{"result":null,"id":N}`, frames
//! of the subscribed streams are forwarded from the market timeline through the connection's
//! faults, and the server pings. A client too slow for the timeline is disconnected, as
//! Binance does.

use super::market::Market;
use crate::faults::{Action, FaultCounter, Faults};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::Message;

pub async fn accept_loop(listener: tokio::net::TcpListener, market: Arc<Market>, faults: Arc<Faults>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (market, faults) = (market.clone(), faults.clone());
        tokio::spawn(async move {
            if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                connection(ws, market, faults).await;
            }
        });
    }
}

async fn connection(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    market: Arc<Market>,
    faults: Arc<Faults>,
) {
    let (mut tx, mut rx) = ws.split();
    let mut frames = market.subscribe();
    let mut streams: HashSet<String> = HashSet::new();
    let mut counter = FaultCounter::default();
    let mut stalled = false;
    let ping_every = if faults.ping_every.is_zero() { std::time::Duration::from_secs(20) } else { faults.ping_every };
    let mut ping = tokio::time::interval(ping_every);
    loop {
        tokio::select! {
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let Ok(req) = serde_json::from_str::<serde_json::Value>(text.as_str()) else { continue };
                    if req["method"] == "SUBSCRIBE" {
                        for s in req["params"].as_array().into_iter().flatten() {
                            streams.insert(s.as_str().unwrap_or_default().to_string());
                        }
                        let ack = serde_json::json!({"result": null, "id": req["id"]}).to_string();
                        if tx.send(Message::text(ack)).await.is_err() {
                            return;
                        }
                        market.start();
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => {}
            },
            _ = ping.tick() => {
                if tx.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            frame = frames.recv() => {
                let f = match frame {
                    Ok(f) => f,
                    Err(RecvError::Lagged(_)) => return,
                    Err(RecvError::Closed) => return,
                };
                if stalled || !streams.contains(&f.stream) {
                    continue;
                }
                match counter.next(&faults) {
                    Action::Drop => {}
                    Action::Disconnect => {
                        let _ = tx.close().await;
                        return;
                    }
                    Action::Stall => stalled = true,
                    Action::Send { garbage_first, twice } => {
                        if garbage_first && tx.send(Message::text("{\"stream\": not json")).await.is_err() {
                            return;
                        }
                        for _ in 0..if twice { 2 } else { 1 } {
                            if tx.send(Message::text(f.text.clone())).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}
