//! `GET /api/v3/depth`, `/fapi/v1/depth` (the fake's current book) and `exchangeInfo`.

use super::Market;
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

pub async fn serve(listener: tokio::net::TcpListener, market: Arc<Market>) {
    let app = axum::Router::new()
        .route("/api/v3/depth", axum::routing::get(depth))
        .route("/fapi/v1/depth", axum::routing::get(depth))
        .route("/api/v3/exchangeInfo", axum::routing::get(exchange_info))
        .route("/fapi/v1/exchangeInfo", axum::routing::get(exchange_info))
        .with_state(market);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "fake venue REST server stopped");
    }
}
