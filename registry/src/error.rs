//! Errors in the Confluent shape: an HTTP status plus `{"error_code": N, "message": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }
    pub fn subject_not_found(subject: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found."))
    }
    pub fn version_not_found(subject: &str, version: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 40402, format!("Version {version} not found for subject '{subject}'."))
    }
    pub fn schema_not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 40403, "Schema not found")
    }
    pub fn subject_level_not_configured(subject: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            40408,
            format!("Subject '{subject}' does not have subject-level compatibility configured"),
        )
    }
    pub fn subject_not_soft_deleted(subject: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            40405,
            format!("Subject '{subject}' was not deleted first before being permanently deleted"),
        )
    }
    pub fn version_not_soft_deleted(subject: &str, version: i32) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            40407,
            format!("Subject '{subject}' Version {version} was not deleted first before being permanently deleted"),
        )
    }
    pub fn incompatible(subject: &str, reasons: &[String]) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            409,
            format!("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", reasons.join("; ")),
        )
    }
    pub fn invalid_schema(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 42201, format!("Invalid schema: {detail}"))
    }
    pub fn invalid_version(version: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42202,
            format!("The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""),
        )
    }
    pub fn invalid_level(level: &str) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 42203, format!("Invalid compatibility level '{level}'. Valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE"))
    }
    pub fn bad_request(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 422, format!("Unprocessable entity: {detail}"))
    }
    pub fn store(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 50001, format!("Error in the backend data store: {detail}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error_code": self.code, "message": self.message});
        crate::http::json_response(self.status, &body)
    }
}
