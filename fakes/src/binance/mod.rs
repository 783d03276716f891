//! A fake Binance (spot or USD-M): the combined-stream WebSocket (`/stream`, SUBSCRIBE with
//! acks, server pings), and REST `depth` and `exchangeInfo`, over one recording folder of
//! `../shared/fixtures` (`binance_spot` or `binance_usdm`).

mod market;
mod rest;
mod ws;

pub use market::Market;

use crate::faults::Faults;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("{path}: {error}")]
    Recording { path: String, error: String },
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: String, error: std::io::Error },
}

/// Where a running fake listens.
pub struct Running {
    pub ws: SocketAddr,
    pub rest: SocketAddr,
}

/// Serve the recording in `folder` on `ws_addr` and `rest_addr` (port 0 picks one); runs
/// until the process ends. `speed` 0 replays as fast as possible, 1 at the recorded pace.
pub async fn serve(
    folder: &Path,
    ws_addr: &str,
    rest_addr: &str,
    speed: f64,
    faults: Faults,
) -> Result<Running, FakeError> {
    let market = Arc::new(Market::load(folder, speed)?);
    let listen = |addr: &str| {
        let addr = addr.to_string();
        async move { tokio::net::TcpListener::bind(&addr).await.map_err(|error| FakeError::Listen { addr, error }) }
    };
    let (ws_listener, rest_listener) = (listen(ws_addr).await?, listen(rest_addr).await?);
    let running =
        Running { ws: ws_listener.local_addr().expect("bound"), rest: rest_listener.local_addr().expect("bound") };
    tokio::spawn(ws::accept_loop(ws_listener, market.clone(), Arc::new(faults)));
    tokio::spawn(rest::serve(rest_listener, market));
    Ok(running)
}
