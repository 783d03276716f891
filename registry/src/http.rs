//! The Confluent Schema Registry REST API over [`Registry`].

use crate::compat::CompatibilityLevel;
use crate::error::ApiError;
use crate::service::{Registry, VersionSelector};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response()
}

fn ok(body: serde_json::Value) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &body))
}

/// A schema text as the body itself (the `/schema` endpoints).
fn raw_schema(text: String) -> Result<Response, ApiError> {
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

type Shared = State<Arc<Registry>>;
type ApiResult = Result<Response, ApiError>;

#[derive(Deserialize, Default)]
struct DeletedQuery {
    #[serde(default)]
    deleted: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PermanentQuery {
    #[serde(default)]
    permanent: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigQuery {
    #[serde(default)]
    default_to_global: bool,
}

#[derive(Deserialize, Default)]
struct VerboseQuery {
    #[serde(default)]
    verbose: bool,
}

/// The body of register / lookup / compatibility calls.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaBody {
    schema: String,
    #[serde(default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<serde_json::Value>,
}

fn schema_body(bytes: &Bytes) -> Result<String, ApiError> {
    let body: SchemaBody = serde_json::from_slice(bytes).map_err(ApiError::bad_request)?;
    match body.schema_type.as_deref() {
        None | Some("AVRO") => {}
        Some(other) => {
            return Err(ApiError::invalid_schema(format!(
                "schemaType {other} is not supported here; this registry serves AVRO"
            )))
        }
    }
    if !body.references.is_empty() {
        return Err(ApiError::invalid_schema("schema references are not supported by this registry"));
    }
    Ok(body.schema)
}

#[derive(Deserialize)]
struct ConfigBody {
    compatibility: String,
}

fn level_body(bytes: &Bytes) -> Result<CompatibilityLevel, ApiError> {
    let body: ConfigBody = serde_json::from_slice(bytes).map_err(ApiError::bad_request)?;
    body.compatibility.parse().map_err(|_| ApiError::invalid_level(&body.compatibility))
}

pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/", get(|| async { ok(json!({})) }))
        .route("/schemas/types", get(|| async { ok(json!(["AVRO"])) }))
        .route("/mode", get(|| async { ok(json!({"mode": "READWRITE"})) }))
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(list_versions).post(register))
        .route("/subjects/{subject}/versions/{version}", get(get_version).delete(delete_version))
        .route("/subjects/{subject}/versions/{version}/schema", get(get_version_schema))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(id_versions))
        .route("/schemas/ids/{id}/subjects", get(id_subjects))
        .route("/compatibility/subjects/{subject}/versions/{version}", post(check_compat))
        .route("/compatibility/subjects/{subject}/versions", post(check_compat_all))
        .route("/config", get(get_global_config).put(put_global_config))
        .route("/config/{subject}", get(get_subject_config).put(put_subject_config).delete(delete_subject_config))
        .fallback(|| async {
            ApiError { status: StatusCode::NOT_FOUND, code: 404, message: "HTTP 404 Not Found".into() }
        })
        .with_state(registry)
}

async fn list_subjects(State(r): Shared, Query(q): Query<DeletedQuery>) -> ApiResult {
    ok(json!(r.subjects(q.deleted).await))
}

async fn list_versions(State(r): Shared, Path(subject): Path<String>, Query(q): Query<DeletedQuery>) -> ApiResult {
    ok(json!(r.versions(&subject, q.deleted).await?))
}

async fn register(State(r): Shared, Path(subject): Path<String>, body: Bytes) -> ApiResult {
    let schema = schema_body(&body)?;
    ok(json!({"id": r.register(&subject, &schema).await?}))
}

async fn lookup(State(r): Shared, Path(subject): Path<String>, body: Bytes) -> ApiResult {
    let schema = schema_body(&body)?;
    ok(json!(r.lookup(&subject, &schema).await?))
}

async fn get_version(
    State(r): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<DeletedQuery>,
) -> ApiResult {
    ok(json!(r.version(&subject, &VersionSelector::parse(&version)?, q.deleted).await?))
}

async fn get_version_schema(State(r): Shared, Path((subject, version)): Path<(String, String)>) -> ApiResult {
    raw_schema(r.version(&subject, &VersionSelector::parse(&version)?, false).await?.schema)
}

async fn delete_subject(State(r): Shared, Path(subject): Path<String>, Query(q): Query<PermanentQuery>) -> ApiResult {
    ok(json!(r.delete_subject(&subject, q.permanent).await?))
}

async fn delete_version(
    State(r): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<PermanentQuery>,
) -> ApiResult {
    ok(json!(r.delete_version(&subject, &VersionSelector::parse(&version)?, q.permanent).await?))
}

fn parse_id(id: &str) -> Result<u32, ApiError> {
    id.parse().map_err(|_| ApiError::schema_not_found())
}

async fn schema_by_id(State(r): Shared, Path(id): Path<String>) -> ApiResult {
    ok(json!({"schema": r.schema_by_id(parse_id(&id)?).await?}))
}

async fn raw_schema_by_id(State(r): Shared, Path(id): Path<String>) -> ApiResult {
    raw_schema(r.schema_by_id(parse_id(&id)?).await?)
}

async fn id_versions(State(r): Shared, Path(id): Path<String>) -> ApiResult {
    let usages = r.id_usages(parse_id(&id)?).await?;
    ok(json!(usages
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect::<Vec<_>>()))
}

async fn id_subjects(State(r): Shared, Path(id): Path<String>) -> ApiResult {
    let mut subjects: Vec<String> = r.id_usages(parse_id(&id)?).await?.into_iter().map(|(s, _)| s).collect();
    subjects.dedup();
    ok(json!(subjects))
}

fn compat_answer(problems: Vec<String>, verbose: bool) -> ApiResult {
    if verbose {
        ok(json!({"is_compatible": problems.is_empty(), "messages": problems}))
    } else {
        ok(json!({"is_compatible": problems.is_empty()}))
    }
}

async fn check_compat(
    State(r): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<VerboseQuery>,
    body: Bytes,
) -> ApiResult {
    let schema = schema_body(&body)?;
    compat_answer(r.check_compatibility(&subject, &VersionSelector::parse(&version)?, &schema).await?, q.verbose)
}

async fn check_compat_all(
    State(r): Shared,
    Path(subject): Path<String>,
    Query(q): Query<VerboseQuery>,
    body: Bytes,
) -> ApiResult {
    let schema = schema_body(&body)?;
    compat_answer(r.check_compatibility(&subject, &VersionSelector::Latest, &schema).await?, q.verbose)
}

async fn get_global_config(State(r): Shared) -> ApiResult {
    ok(json!({"compatibilityLevel": r.global_level().await.as_str()}))
}

async fn put_global_config(State(r): Shared, body: Bytes) -> ApiResult {
    let level = level_body(&body)?;
    r.set_level(None, level).await?;
    ok(json!({"compatibility": level.as_str()}))
}

async fn get_subject_config(State(r): Shared, Path(subject): Path<String>, Query(q): Query<ConfigQuery>) -> ApiResult {
    ok(json!({"compatibilityLevel": r.subject_level(&subject, q.default_to_global).await?.as_str()}))
}

async fn put_subject_config(State(r): Shared, Path(subject): Path<String>, body: Bytes) -> ApiResult {
    let level = level_body(&body)?;
    r.set_level(Some(&subject), level).await?;
    ok(json!({"compatibility": level.as_str()}))
}

async fn delete_subject_config(State(r): Shared, Path(subject): Path<String>) -> ApiResult {
    ok(json!({"compatibilityLevel": r.delete_level(&subject).await?.as_str()}))
}
