//! `GET /api/v5/market/books` (the fake's current book) and `/api/v5/public/instruments`.

use super::Market;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;
use tickwatch_ingest::okx::messages::market_of;

type Params = Query<HashMap<String, String>>;

fn error(code: &str, msg: &str) -> Response {
    axum::Json(serde_json::json!({"code": code, "msg": msg, "data": []})).into_response()
}

async fn books(State(m): State<Arc<Market>>, Query(q): Params) -> Response {
    let depth = q.get("sz").and_then(|s| s.parse().ok()).unwrap_or(1).min(400);
    let inst = q.get("instId").map(String::as_str).unwrap_or_default();
    match m.book(inst, depth) {
        Some((mut data, _)) => {
            let d = data.as_object_mut().expect("an object");
            d.remove("checksum");
            d.remove("prevSeqId");
            axum::Json(serde_json::json!({"code": "0", "msg": "", "data": [data]})).into_response()
        }
        None => error("51001", "Instrument ID does not exist"),
    }
}

async fn instruments(State(m): State<Arc<Market>>, Query(q): Params) -> Response {
    let Some(kind) = q.get("instType") else { return error("50014", "Parameter instType can not be empty") };
    let data: Vec<serde_json::Value> = m
        .instruments
        .iter()
        .filter(|i| market_of(i).eq_ignore_ascii_case(kind))
        .map(|i| serde_json::json!({"instId": i, "instType": kind, "state": "live"}))
        .collect();
    axum::Json(serde_json::json!({"code": "0", "msg": "", "data": data})).into_response()
}

pub async fn serve(listener: tokio::net::TcpListener, market: Arc<Market>) {
    let app = axum::Router::new()
        .route("/api/v5/market/books", axum::routing::get(books))
        .route("/api/v5/public/instruments", axum::routing::get(instruments))
        .with_state(market);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "fake venue REST server stopped");
    }
}
