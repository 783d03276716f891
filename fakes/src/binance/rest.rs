//! `GET /api/v3/depth`, `/fapi/v1/depth` (the fake's current book), `exchangeInfo`,
//! `klines` (1m bars of the recorded trades) and `aggTrades` (the recorded trades); the last
//! two answer 429 with `Retry-After` past the request limit.

use super::Market;
use crate::klines::{param, History};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;

type Params = Query<HashMap<String, String>>;

async fn depth(State(m): State<Arc<Market>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let symbol = q.get("symbol").map(String::as_str).unwrap_or_default();
    match m.depth(symbol, limit) {
        Some(body) => axum::Json(body).into_response(),
        None => refuse(-1121, "Invalid symbol."),
    }
}

async fn exchange_info(State(m): State<Arc<Market>>) -> Response {
    match &m.exchange_info {
        Some(text) => ([(axum::http::header::CONTENT_TYPE, "application/json")], text.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn too_many() -> Response {
    let body =
        serde_json::json!({"code": -1003, "msg": "Too many requests; please use the websocket for live updates."});
    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], axum::Json(body)).into_response()
}

fn refuse(code: i64, msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"code": code, "msg": msg}))).into_response()
}

/// `aggTrades`: from an id (`fromId`), or within `startTime..=endTime` (less than an hour
/// apart), oldest first; `M` (best price match) is spot's only.
async fn agg_trades(h: &History, q: &HashMap<String, String>, spot: bool) -> Response {
    if !h.limit.admit() {
        return too_many();
    }
    let symbol = q.get("symbol").map(String::as_str).unwrap_or_default();
    if !h.tape.has(symbol) {
        return refuse(-1121, "Invalid symbol.");
    }
    let limit = param(q, "limit").unwrap_or(500).clamp(1, 1000) as usize;
    let (start, end) = (param(q, "startTime"), param(q, "endTime"));
    if let (Some(s), Some(e)) = (start, end) {
        if e - s >= 3_600_000 {
            return refuse(-1127, "More than 1 hours between startTime and endTime.");
        }
    }
    let trades = h.tape.trades(symbol, crate::now_ms());
    let picked = trades.iter().filter(|t| match param(q, "fromId") {
        Some(id) => t.id >= id,
        None => start.is_none_or(|s| t.ms >= s) && end.is_none_or(|e| t.ms <= e),
    });
    let rows: Vec<serde_json::Value> = picked
        .take(limit)
        .map(|t| {
            let mut row = serde_json::json!({"a": t.id, "p": t.px_text, "q": t.qty_text, "f": t.id, "l": t.id, "T": t.ms, "m": !t.buy});
            if spot {
                row["M"] = true.into();
            }
            row
        })
        .collect();
    axum::Json(rows).into_response()
}

async fn klines(State(h): State<Arc<History>>, Query(q): Query<HashMap<String, String>>) -> Response {
    if !h.limit.admit() {
        return too_many();
    }
    let symbol = q.get("symbol").map(String::as_str).unwrap_or_default();
    if q.get("interval").map(String::as_str) != Some("1m") {
        return refuse(-1120, "Invalid interval.");
    }
    if !h.tape.has(symbol) {
        return refuse(-1121, "Invalid symbol.");
    }
    let limit = param(&q, "limit").unwrap_or(500).clamp(1, 1000) as usize;
    let (from, to) =
        (param(&q, "startTime").unwrap_or(0), param(&q, "endTime").map_or(i64::MAX, |e| e.saturating_add(1)));
    let rows: Vec<serde_json::Value> = h
        .tape
        .bars(symbol, from, to, crate::now_ms())
        .into_iter()
        .take(limit)
        .map(|b| {
            serde_json::json!([
                b.open_time_ms,
                b.open.to_string(),
                b.high.to_string(),
                b.low.to_string(),
                b.close.to_string(),
                b.volume.to_string(),
                b.open_time_ms + 59_999,
                b.quote_volume.to_string(),
                b.trades,
                b.taker_buy_volume.to_string(),
                b.taker_buy_quote_volume.to_string(),
                "0"
            ])
        })
        .collect();
    axum::Json(rows).into_response()
}

pub async fn serve(listener: tokio::net::TcpListener, market: Arc<Market>, history: Arc<History>) {
    let app = axum::Router::new()
        .route("/api/v3/depth", axum::routing::get(depth))
        .route("/fapi/v1/depth", axum::routing::get(depth))
        .route("/api/v3/exchangeInfo", axum::routing::get(exchange_info))
        .route("/fapi/v1/exchangeInfo", axum::routing::get(exchange_info))
        .with_state(market)
        .merge(
            axum::Router::new()
                .route("/api/v3/klines", axum::routing::get(klines))
                .route("/fapi/v1/klines", axum::routing::get(klines))
                .route(
                    "/api/v3/aggTrades",
                    axum::routing::get(|State(h): State<Arc<History>>, Query(q): Params| async move {
                        agg_trades(&h, &q, true).await
                    }),
                )
                .route(
                    "/fapi/v1/aggTrades",
                    axum::routing::get(|State(h): State<Arc<History>>, Query(q): Params| async move {
                        agg_trades(&h, &q, false).await
                    }),
                )
                .with_state(history),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "fake venue REST server stopped");
    }
}
