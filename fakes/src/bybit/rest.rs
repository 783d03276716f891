//! `GET /v5/market/orderbook` (the fake's current book) and `/v5/market/instruments-info`.

use super::Market;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;

type Params = Query<HashMap<String, String>>;

fn reply(code: i64, msg: &str, result: serde_json::Value) -> Response {
    let body = serde_json::json!({"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": crate::now_ms()});
    axum::Json(body).into_response()
}

async fn orderbook(State(m): State<Arc<Market>>, Query(q): Params) -> Response {
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
    let symbol = q.get("symbol").map(String::as_str).unwrap_or_default();
    match m.book(symbol, limit) {
        Some((mut data, _)) => {
            let now = crate::now_ms();
            data["ts"] = now.into();
            data["cts"] = now.into();
            reply(0, "OK", data)
        }
        None => reply(10001, "params error: symbol invalid", serde_json::json!({})),
    }
}

async fn instruments(State(m): State<Arc<Market>>, Query(q): Params) -> Response {
    let category = q.get("category").cloned().unwrap_or_default();
    let list: Vec<serde_json::Value> = m
        .depths
        .keys()
        .map(|s| serde_json::json!({"symbol": s, "contractType": "LinearPerpetual", "status": "Trading"}))
        .collect();
    reply(0, "OK", serde_json::json!({"category": category, "list": list, "nextPageCursor": ""}))
}

pub async fn serve(listener: tokio::net::TcpListener, market: Arc<Market>) {
    let app = axum::Router::new()
        .route("/v5/market/orderbook", axum::routing::get(orderbook))
        .route("/v5/market/instruments-info", axum::routing::get(instruments))
        .with_state(market);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "fake venue REST server stopped");
    }
}
