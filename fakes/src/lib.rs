//! Fake venue servers. The venues cannot be reached from here, so these stand in for them:
//! each speaks its venue's real WebSocket and REST protocol, replays a real recording of
//! `../shared/fixtures` on one market timeline (started by the first subscription), and
//! misbehaves on demand ([`faults::Faults`]).

pub mod binance;
pub mod bybit;
pub mod evm;
pub mod faults;
pub mod klines;
pub mod okx;
pub mod synthetic;
pub mod timeline;
pub mod ws;

use faults::Faults;
use klines::History;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("{path}: {error}")]
    Recording { path: String, error: String },
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: String, error: std::io::Error },
    #[error("no fake for venue `{0}`; built: binance, binance-usdm, okx, bybit")]
    UnknownVenue(String),
}

impl FakeError {
    pub fn recording(path: &Path, error: impl ToString) -> FakeError {
        FakeError::Recording { path: path.display().to_string(), error: error.to_string() }
    }
}

fn read(path: &Path) -> Result<String, FakeError> {
    std::fs::read_to_string(path).map_err(|e| FakeError::recording(path, e))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Where a running fake listens.
pub struct Running {
    pub ws: SocketAddr,
    pub rest: SocketAddr,
    /// The WebSocket URL the ingestor's config takes (path included).
    pub ws_url: String,
}

async fn listen(addr: &str) -> Result<tokio::net::TcpListener, FakeError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|error| FakeError::Listen { addr: addr.into(), error })
}

fn history(venue: &str, market: &impl ws::Protocol, faults: &Faults) -> Arc<History> {
    Arc::new(History::of(venue, market.timeline(), faults.rest_per_second))
}

fn serve_binance(
    venue: &str,
    market: Arc<binance::Market>,
    (ws_listener, rest_listener): (tokio::net::TcpListener, tokio::net::TcpListener),
    faults: Arc<Faults>,
) -> &'static str {
    let history = history(venue, market.as_ref(), &faults);
    tokio::spawn(ws::accept_loop(ws_listener, market.clone(), faults));
    tokio::spawn(binance::serve_rest(rest_listener, market, history));
    "/stream"
}

/// Serve a Binance market of trades made as they are played (see
/// `binance::Market::streaming`) on `ws_addr` and `rest_addr`.
pub async fn serve_binance_stream(
    venue: &str,
    market: binance::Market,
    ws_addr: &str,
    rest_addr: &str,
    faults: Faults,
) -> Result<Running, FakeError> {
    let (ws_listener, rest_listener) = (listen(ws_addr).await?, listen(rest_addr).await?);
    let (ws, rest) = (ws_listener.local_addr().expect("bound"), rest_listener.local_addr().expect("bound"));
    let path = serve_binance(venue, Arc::new(market), (ws_listener, rest_listener), Arc::new(faults));
    Ok(Running { ws, rest, ws_url: format!("ws://{ws}{path}") })
}

/// Serve `venue` (binance, binance-usdm, okx, bybit) from the recording folder `folder` on
/// `ws_addr` and `rest_addr` (port 0 picks one); runs until the process ends.
pub async fn serve(
    venue: &str,
    folder: &Path,
    ws_addr: &str,
    rest_addr: &str,
    speed: f64,
    faults: Faults,
) -> Result<Running, FakeError> {
    let (ws_listener, rest_listener) = (listen(ws_addr).await?, listen(rest_addr).await?);
    let (ws, rest) = (ws_listener.local_addr().expect("bound"), rest_listener.local_addr().expect("bound"));
    let faults = Arc::new(faults);
    let path = match venue {
        "binance" | "binance-usdm" => {
            let market = Arc::new(binance::Market::load(folder, speed)?);
            serve_binance(venue, market, (ws_listener, rest_listener), faults)
        }
        "okx" => {
            let market = Arc::new(okx::Market::load(folder, speed)?);
            let history = history(venue, market.as_ref(), &faults);
            tokio::spawn(ws::accept_loop(ws_listener, market.clone(), faults));
            tokio::spawn(okx::serve_rest(rest_listener, market, history));
            "/ws/v5/public"
        }
        "bybit" => {
            let market = Arc::new(bybit::Market::load(folder, speed)?);
            let history = history(venue, market.as_ref(), &faults);
            tokio::spawn(ws::accept_loop(ws_listener, market.clone(), faults));
            tokio::spawn(bybit::serve_rest(rest_listener, market, history));
            "/v5/public/linear"
        }
        other => return Err(FakeError::UnknownVenue(other.into())),
    };
    Ok(Running { ws, rest, ws_url: format!("ws://{ws}{path}") })
}
