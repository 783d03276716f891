//! `GET /v5/market/orderbook` (the fake's current book), `/v5/market/instruments-info`, and
//! `market/kline` (1m bars of the recorded trades, newest first; retCode 10006 with the
//! reset time in `X-Bapi-Limit-Reset-Timestamp` past the request limit).

use super::Market;
use crate::klines::{param, History};
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

async fn kline(State(h): State<Arc<History>>, Query(q): Params) -> Response {
    if !h.limit.admit() {
        let reset = h.limit.reset_at_ms().to_string();
        let mut r = reply(10006, "Too many visits!", serde_json::json!({}));
        r.headers_mut().insert("x-bapi-limit-reset-timestamp", reset.parse().expect("digits"));
        return r;
    }
    let symbol = q.get("symbol").cloned().unwrap_or_default();
    if q.get("interval").map(String::as_str) != Some("1") {
        return reply(10001, "params error: interval invalid", serde_json::json!({}));
    }
    if !h.tape.has(&symbol) {
        return reply(10001, "params error: symbol invalid", serde_json::json!({}));
    }
    let limit = param(&q, "limit").unwrap_or(200).clamp(1, 1000) as usize;
    let (start, end) = (param(&q, "start").unwrap_or(0), param(&q, "end").map_or(i64::MAX, |e| e.saturating_add(1)));
    let list: Vec<serde_json::Value> = h
        .tape
        .newest_first(&symbol, start, end, limit)
        .into_iter()
        .map(|b| {
            let mut row = b.text_row();
            row.push(b.quote_volume.to_string().into());
            serde_json::Value::from(row)
        })
        .collect();
    let category = q.get("category").cloned().unwrap_or_default();
    reply(0, "OK", serde_json::json!({"symbol": symbol, "category": category, "list": list}))
}

pub async fn serve(listener: tokio::net::TcpListener, market: Arc<Market>, history: Arc<History>) {
    let app = axum::Router::new()
        .route("/v5/market/orderbook", axum::routing::get(orderbook))
        .route("/v5/market/instruments-info", axum::routing::get(instruments))
        .with_state(market)
        .merge(axum::Router::new().route("/v5/market/kline", axum::routing::get(kline)).with_state(history));
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "fake venue REST server stopped");
    }
}
