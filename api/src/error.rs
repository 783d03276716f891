//! Every refusal is JSON naming what to change: `{"error": {status, code, parameter?, message}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadParameter { parameter: String, message: String },
    #[error("unknown instrument {instrument} on {venue}")]
    UnknownInstrument { venue: String, instrument: String },
    #[error("{0}")]
    NotFound(String),
    #[error("no such route; the routes are listed at /openapi.json")]
    UnknownRoute,
    #[error("an API key is required: send it in the X-API-Key header")]
    KeyRequired,
    #[error("the API key is not known")]
    UnknownKey,
    #[error("this API key may not read venue {0}")]
    VenueForbidden(String),
    #[error("too many requests: this client's limit is {per_second}/s; retry after {retry_after_s} s")]
    RateLimited { per_second: f64, retry_after_s: u64 },
    /// A server we read from failed; the message says which (never a credential).
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn bad(parameter: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadParameter { parameter: parameter.into(), message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnknownInstrument { .. } | ApiError::NotFound(_) | ApiError::UnknownRoute => {
                StatusCode::NOT_FOUND
            }
            ApiError::KeyRequired | ApiError::UnknownKey => StatusCode::UNAUTHORIZED,
            ApiError::VenueForbidden(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadParameter { .. } => "bad_parameter",
            ApiError::UnknownInstrument { .. } => "unknown_instrument",
            ApiError::NotFound(_) => "not_found",
            ApiError::UnknownRoute => "unknown_route",
            ApiError::KeyRequired => "api_key_required",
            ApiError::UnknownKey => "unknown_api_key",
            ApiError::VenueForbidden(_) => "venue_forbidden",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
        }
    }
}

impl From<tickwatch_runtime::clickhouse::ClickHouseError> for ApiError {
    fn from(e: tickwatch_runtime::clickhouse::ClickHouseError) -> ApiError {
        tracing::warn!(error = %e, "ClickHouse query failed");
        ApiError::Unavailable("ClickHouse did not answer the query; see the API's log".into())
    }
}

impl From<tickwatch_runtime::state::StateError> for ApiError {
    fn from(e: tickwatch_runtime::state::StateError) -> ApiError {
        tracing::warn!(error = %e, "Redis request failed");
        ApiError::Unavailable("Redis did not answer; see the API's log".into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = json!({"status": status.as_u16(), "code": self.code(), "message": self.to_string()});
        if let ApiError::BadParameter { parameter, .. } = &self {
            body["parameter"] = json!(parameter);
        }
        let mut resp = (status, axum::Json(json!({ "error": body }))).into_response();
        if let ApiError::RateLimited { retry_after_s, .. } = &self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
