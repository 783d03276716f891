//! The query API and web dashboard (`tickwatch api serve`). Hot values (latest trade, book,
//! reference prices, spreads, divergence, PriceSmooth, firing alerts) come from memory, kept
//! current from the clean topics; order books from the book worker's Redis snapshots; history
//! from ClickHouse with parameterized queries only. The contract is `/openapi.json`.

/// Completeness, one definition for `/quality/summary` and the SLO report: per venue and
/// instrument, `bars` = the range's minutes with a 1m k-line ...
macro_rules! bars_1m_in_range {
    () => {
        "SELECT venue, instrument, uniqExact(open_time) AS bars FROM klines FINAL \
        WHERE interval = '1m' AND open_time >= fromUnixTimestamp64Milli({from:Int64}) \
        AND open_time < fromUnixTimestamp64Milli({to:Int64}) GROUP BY venue, instrument"
    };
}

/// ... over the minutes from the instrument's first observed minute (`q.first_minute`) to the
/// end of the range, or now.
macro_rules! expected_minutes {
    () => {
        "dateDiff('minute', q.first_minute, least(fromUnixTimestamp64Milli({to:Int64}), now64(3)))"
    };
}

pub mod cache;
pub mod config;
pub mod error;
pub mod hot;
pub mod limit;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod slo;
pub mod slo_metrics;

use crate::cache::TtlCache;
use crate::config::{ApiConfig, Durations};
use crate::error::ApiError;
use crate::hot::follow::FollowStats;
use crate::hot::HotState;
use crate::limit::{Caller, Gate};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::state::StateStore;

/// Everything a request handler reads.
pub struct App {
    pub cfg: ApiConfig,
    pub durations: Durations,
    pub clickhouse: ClickHouse,
    pub hot: Arc<HotState>,
    pub follow: Arc<FollowStats>,
    /// Venue → its canonical instruments (config/symbols.yaml).
    pub catalog: BTreeMap<String, Vec<String>>,
    /// Venue symbol per (venue, instrument), for `/instruments`.
    pub symbols: BTreeMap<(String, String), String>,
    /// The k-line and book window lengths (config/windows.yaml).
    pub intervals: Vec<String>,
    pub gate: Gate,
    pub history_cache: TtlCache<Arc<str>>,
    pub book_cache: TtlCache<Option<Arc<Value>>>,
    /// Hot order books written by the book worker.
    pub books: Mutex<StateStore>,
    /// Silences, shared with the notifier and the CLI.
    pub silences: Mutex<tickwatch_alerts::silences::Silences>,
    pub dashboard_dir: PathBuf,
}

pub struct AppParts {
    pub cfg: ApiConfig,
    pub durations: Durations,
    pub clickhouse: ClickHouse,
    pub redis_url: String,
    pub symbols: tickwatch_model::symbols::Symbols,
    pub intervals: Vec<String>,
}

impl App {
    pub fn new(parts: AppParts) -> Result<App, String> {
        let AppParts { cfg, durations, clickhouse, redis_url, symbols, intervals } = parts;
        let mut catalog: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut venue_symbols = BTreeMap::new();
        for a in &symbols.aliases {
            catalog.entry(a.venue.clone()).or_default().push(a.instrument.clone());
            venue_symbols.insert((a.venue.clone(), a.instrument.clone()), a.symbol.clone());
        }
        for list in catalog.values_mut() {
            list.sort();
            list.dedup();
        }
        let gate = Gate::new(&cfg.api_keys, cfg.rate_limit)?;
        Ok(App {
            history_cache: TtlCache::new(durations.history_ttl_ms, cfg.cache.max_entries),
            book_cache: TtlCache::new(durations.hot_ttl_ms, cfg.cache.max_entries),
            books: Mutex::new(StateStore::new(&redis_url, &cfg.hot.redis_prefix)),
            silences: Mutex::new(tickwatch_alerts::silences::Silences::new(&redis_url, &cfg.alerts_state_prefix)),
            dashboard_dir: cfg.dashboard_dir.clone(),
            hot: Arc::new(HotState::default()),
            follow: Arc::new(FollowStats::default()),
            catalog,
            symbols: venue_symbols,
            intervals,
            gate,
            clickhouse,
            durations,
            cfg,
        })
    }
}

/// Every route. `/healthz`, `/openapi.json` and the dashboard's files are open; `/api/v1/*`
/// passes the key check and the rate limit first.
pub fn router(app: Arc<App>) -> Router {
    use routes::{alerts, dex, market, meta, quality, signals};
    let api = Router::new()
        .route("/instruments", get(market::instruments))
        .route("/latest", get(market::latest))
        .route("/book", get(market::book))
        .route("/klines", get(market::klines))
        .route("/factors", get(market::factors))
        .route("/spreads", get(signals::spreads))
        .route("/divergence", get(signals::divergence))
        .route("/smooth", get(signals::smooth))
        .route("/dex/swaps", get(dex::swaps))
        .route("/alerts", get(alerts::list))
        .route("/silences", get(alerts::silences).post(alerts::add_silence))
        .route("/silences/{id}", delete(alerts::delete_silence))
        .route("/quality", get(quality::minutes))
        .route("/quality/summary", get(quality::summary))
        .route("/slo", get(quality::slo))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), admit));
    Router::new()
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/openapi.json", get(meta::openapi))
        .route("/", get(meta::dashboard_index))
        .route("/assets/{*file}", get(meta::dashboard_asset))
        .nest("/api/v1", api)
        .fallback(meta::not_found)
        .with_state(app)
}

/// Identify the caller (API key or address), take a token, and hand the caller to the route.
async fn admit(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get("x-api-key")
        .or_else(|| req.headers().get(axum::http::header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_string());
    let address = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let caller: Result<Caller, ApiError> =
        app.gate.identify(key.as_deref(), &address).and_then(|c| app.gate.admit(&c).map(|_| c));
    match caller {
        Ok(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await
}
