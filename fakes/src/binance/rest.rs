//! `GET /api/v3/depth`, `/fapi/v1/depth` (the fake's current book), `exchangeInfo`, and
//! `klines` (1m bars of the recorded trades; 429 with `Retry-After` past the request limit).

use super::Market;
use crate::klines::{param, History};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;

async fn depth(State(m): State<Arc<Market>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let symbol = q.get("symbol").map(String::as_str).unwrap_or_default();
    match m.depth(symbol, limit) {
        Some(body) => axum::Json(body).into_response(),
        None => (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"code": -1121, "msg": "Invalid symbol."})))
            .into_response(),
    }
}

async fn exchange_info(State(m): State<Arc<Market>>) -> Response {
    match &m.exchange_info {
        Some(text) => ([(axum::http::header::CONTENT_TYPE, "application/json")], text.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn klines(State(h): State<Arc<History>>, Query(q): Query<HashMap<String, String>>) -> Response {
    if !h.limit.admit() {
        let body =
            serde_json::json!({"code": -1003, "msg": "Too many requests; please use the websocket for live updates."});
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], axum::Json(body)).into_response();
    }
    let symbol = q.get("symbol").map(String::as_str).unwrap_or_default();
    if q.get("interval").map(String::as_str) != Some("1m") {
        return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"code": -1120, "msg": "Invalid interval."})))
            .into_response();
    }
    if !h.tape.has(symbol) {
        return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"code": -1121, "msg": "Invalid symbol."})))
            .into_response();
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
                .with_state(history),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "fake venue REST server stopped");
    }
}
