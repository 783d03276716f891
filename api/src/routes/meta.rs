//! Health, the OpenAPI document, the dashboard's files and the JSON 404.

use crate::error::ApiError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when ClickHouse answers and the topic follower has its partitions.
pub async fn readyz(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    app.clickhouse.ping().await?;
    let following = app.follow.assigned.load(Ordering::Relaxed);
    if app.cfg.hot.follow && !following {
        return Err(ApiError::Unavailable("still waiting for the clean topics to exist".into()));
    }
    Ok(Json(json!({"status": "ready", "followed_records": app.follow.records.load(Ordering::Relaxed)})))
}

pub async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::UnknownRoute
}

pub async fn dashboard_index(State(app): State<Arc<App>>) -> Response {
    file(&app, "index.html", "text/html; charset=utf-8").await
}

/// `/assets/app.js`, `/assets/app.css`, `/assets/vendor/lightweight-charts.js`; nothing else.
pub async fn dashboard_asset(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    match name.as_str() {
        "app.js" => file(&app, "app.js", "text/javascript; charset=utf-8").await,
        "app.css" => file(&app, "app.css", "text/css; charset=utf-8").await,
        "vendor/lightweight-charts.js" => file(&app, VENDOR_CHARTS, "text/javascript; charset=utf-8").await,
        _ => ApiError::NotFound(format!("no asset `{name}`")).into_response(),
    }
}

/// The chart library, installed from npm by `make setup` (`npm ci` in the dashboard folder).
pub const VENDOR_CHARTS: &str = "node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js";

async fn file(app: &App, relative: &str, content_type: &'static str) -> Response {
    let path = app.dashboard_dir.join(relative);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], bytes).into_response()
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "dashboard file missing");
            ApiError::NotFound(format!(
                "dashboard file {} is missing ({e}); run `make setup` (it installs the chart library with npm) and check dashboard_dir in config/api.yaml",
                path.display()
            ))
            .into_response()
        }
    }
}
