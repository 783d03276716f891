//! `GET /api/v5/market/books` (the fake's current book), `/api/v5/public/instruments`,
//! `market/history-candles` (1m bars of the recorded trades) and `market/history-trades` (the
//! recorded trades), both newest first and answering HTTP 429 with code 50011 past the
//! request limit.

use super::Market;
use crate::klines::{param, History};
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

fn too_many() -> Response {
    let body = serde_json::json!({"code": "50011", "msg": "Too Many Requests", "data": []});
    (axum::http::StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
}

/// `history-trades`: older than `after` and newer than `before`, both trade ids (`type` 1,
/// the default) or times (`type` 2); newest first, at most 100.
async fn history_trades(State(h): State<Arc<History>>, Query(q): Params) -> Response {
    if !h.limit.admit() {
        return too_many();
    }
    let inst = q.get("instId").map(String::as_str).unwrap_or_default();
    if !h.tape.has(inst) {
        return error("51001", "Instrument ID does not exist");
    }
    let by_time = match q.get("type").map_or("1", String::as_str) {
        "1" => false,
        "2" => true,
        _ => return error("51000", "Parameter type error"),
    };
    let limit = param(&q, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let (older_than, newer_than) = (param(&q, "after").unwrap_or(i64::MAX), param(&q, "before").unwrap_or(i64::MIN));
    let data: Vec<serde_json::Value> = h
        .tape
        .trades(inst, crate::now_ms())
        .iter()
        .rev()
        .filter(|t| {
            let at = if by_time { t.ms } else { t.id };
            at < older_than && at > newer_than
        })
        .take(limit)
        .map(|t| {
            let side = if t.buy { "buy" } else { "sell" };
            serde_json::json!({"instId": inst, "side": side, "sz": t.qty_text, "px": t.px_text, "source": "0",
                "tradeId": t.id.to_string(), "ts": t.ms.to_string()})
        })
        .collect();
    axum::Json(serde_json::json!({"code": "0", "msg": "", "data": data})).into_response()
}

async fn history_candles(State(h): State<Arc<History>>, Query(q): Params) -> Response {
    if !h.limit.admit() {
        return too_many();
    }
    let inst = q.get("instId").map(String::as_str).unwrap_or_default();
    if q.get("bar").map_or("1m", String::as_str) != "1m" {
        return error("51000", "Parameter bar error");
    }
    if !h.tape.has(inst) {
        return error("51001", "Instrument ID does not exist");
    }
    let limit = param(&q, "limit").unwrap_or(100).clamp(1, 100) as usize;
    // `after`: older than; `before`: newer than (both exclusive).
    let (newer_than, older_than) = (param(&q, "before").unwrap_or(-1), param(&q, "after").unwrap_or(i64::MAX));
    let data: Vec<serde_json::Value> = h
        .tape
        .newest_first(inst, newer_than.saturating_add(1), older_than, limit)
        .into_iter()
        .map(|b| {
            let mut row = b.text_row();
            // volCcy is the base currency on spot as vol is; every bar served has closed.
            row.extend([b.volume.to_string(), b.quote_volume.to_string(), "1".into()].map(serde_json::Value::from));
            serde_json::Value::from(row)
        })
        .collect();
    axum::Json(serde_json::json!({"code": "0", "msg": "", "data": data})).into_response()
}

pub async fn serve(listener: tokio::net::TcpListener, market: Arc<Market>, history: Arc<History>) {
    let app = axum::Router::new()
        .route("/api/v5/market/books", axum::routing::get(books))
        .route("/api/v5/public/instruments", axum::routing::get(instruments))
        .with_state(market)
        .merge(
            axum::Router::new()
                .route("/api/v5/market/history-candles", axum::routing::get(history_candles))
                .route("/api/v5/market/history-trades", axum::routing::get(history_trades))
                .with_state(history),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "fake venue REST server stopped");
    }
}
