//! Alerts (firing now from memory, history from ClickHouse) and silences (Redis, shared with
//! the notifier and `tickwatch alerts silence`).

use super::{items, Answer, AppState, Given, History};
use crate::error::ApiError;
use crate::limit::Caller;
use crate::params::Params;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use tickwatch_alerts::silences::{new_id, Silence, Silences};
use tickwatch_runtime::config_error::parse_duration_ms;
use tickwatch_runtime::produce::now_us;

const ALERTS: &str =
    "SELECT fingerprint, rule, toString(severity) AS severity, toString(state) AS state, venue, instrument, \
    value, threshold, summary, labels, toUnixTimestamp64Milli(started_at) AS started_at_ms, \
    toUnixTimestamp64Milli(emitted_at) AS emitted_at_ms FROM alerts FINAL";

pub async fn list(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let which = p.choice("state", &["active", "all"], "active")?;
    let s = app.series(&mut p, &caller, false, false)?;
    let rule = p.opt("rule");
    let severity = p.opt("severity");
    if let Some(sev) = &severity {
        if !["P1", "P2", "P3"].contains(&sev.as_str()) {
            return Err(ApiError::bad("severity", format!("`severity` must be one of P1, P2, P3 (got `{sev}`)")));
        }
    }
    if which == "active" {
        if p.opt("from").is_some() {
            return Err(ApiError::bad("from", "`from` applies to history: add state=all"));
        }
        let eq = |f: &Option<String>, v: &Value| f.as_ref().is_none_or(|f| v.as_str() == Some(f));
        let firing = app.hot.firing().into_iter().filter(|a| {
            eq(&s.venue, &a["venue"])
                && eq(&s.instrument, &a["instrument"])
                && eq(&rule, &a["rule"])
                && eq(&severity, &a["severity"])
                && a["venue"].as_str().is_none_or(|v| caller.may_read(v).is_ok())
        });
        return app.latest_page(&mut p, firing.collect());
    }
    let range = app.range(&mut p, 7 * 86_400_000)?;
    let limit = app.limit(&mut p)?;
    let cursor = p.opt("cursor");
    p.finish()?;
    let mut q = History::new(ALERTS, &[("toUnixTimestamp64Micro(emitted_at)", "Int64"), ("fingerprint", "String")])
        .equal("venue", &s.venue)
        .equal("instrument", &s.instrument)
        .equal("rule", &rule)
        .time_range("emitted_at", range);
    if let Some(sev) = severity {
        q = q.when("toString(severity) = {severity:String}", &[("severity", sev)]);
    }
    q.descending = true;
    app.history(q, limit, cursor).await
}

/// Run a Redis request on the blocking pool.
async fn with_silences<T: Send + 'static>(
    app: &Arc<crate::App>,
    f: impl FnOnce(&mut Silences) -> Result<T, tickwatch_runtime::state::StateError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&mut app.silences.lock().unwrap_or_else(|p| p.into_inner())))
        .await
        .map_err(|e| ApiError::Unavailable(format!("silence request failed: {e}")))?
        .map_err(ApiError::from)
}

pub async fn silences(State(app): AppState, Extension(_caller): Extension<Caller>, q: Given) -> Answer {
    Params::new(q.0).finish()?;
    let list = with_silences(&app, |s| s.list()).await?;
    Ok(items(list.iter().map(silence_json).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// Label → value; `*` matches any value.
    matchers: BTreeMap<String, String>,
    /// How long, e.g. `2h`.
    duration: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    created_by: Option<String>,
}

pub async fn add_silence(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewSilence>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(new) = body.map_err(|e| ApiError::bad("body", format!("the body must be JSON like {{\"matchers\": {{\"rule\": \"spread-wide\"}}, \"duration\": \"2h\", \"comment\": \"…\"}}: {}", e.body_text())))?;
    if new.matchers.is_empty() || new.matchers.iter().any(|(k, v)| k.trim().is_empty() || v.trim().is_empty()) {
        return Err(ApiError::bad("matchers", "give at least one label = value matcher, none empty"));
    }
    let ms = parse_duration_ms(&new.duration).filter(|ms| *ms > 0).ok_or_else(|| {
        ApiError::bad("duration", format!("`{}`: write a duration such as 30m, 2h, 1d", new.duration))
    })?;
    let now = now_us();
    let silence = Silence {
        id: new_id(now),
        matchers: new.matchers,
        starts_at_us: now,
        ends_at_us: now + ms * 1_000,
        created_by: new.created_by.unwrap_or_else(|| caller.bucket.clone()),
        comment: new.comment,
    };
    let stored = silence.clone();
    with_silences(&app, move |s| s.add(&stored)).await?;
    tracing::info!(id = silence.id, by = silence.created_by, "silence added");
    Ok((StatusCode::CREATED, Json(silence_json(&silence))).into_response())
}

pub async fn delete_silence(
    State(app): AppState,
    Extension(_caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let key = id.clone();
    if with_silences(&app, move |s| s.delete(&key)).await? {
        tracing::info!(id, "silence deleted");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound(format!("no silence `{id}`")))
    }
}

fn silence_json(s: &Silence) -> Value {
    json!({"id": s.id, "matchers": s.matchers, "starts_at_ms": s.starts_at_us / 1_000, "ends_at_ms": s.ends_at_us / 1_000,
        "created_by": s.created_by, "comment": s.comment})
}
