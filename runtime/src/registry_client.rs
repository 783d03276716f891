//! A client of the Confluent Schema Registry REST API (Redpanda's built-in registry, Confluent's,
//! Karapace, or `tickwatch registry`), with the id → schema cache producers and consumers need.

use apache_avro::Schema;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema registry at {url} is unreachable: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("schema registry refused {what}: HTTP {status}, error_code {error_code}: {message}")]
    Refused { what: String, status: u16, error_code: i64, message: String },
    #[error("schema registry sent an unexpected answer to {what}: {detail}")]
    Protocol { what: String, detail: String },
    #[error("schema id {id} from the registry does not parse as Avro: {source}")]
    BadSchema { id: u32, source: Box<apache_avro::Error> },
}

impl RegistryError {
    /// The Confluent `error_code` (40401 subject not found, 409 incompatible, ...).
    pub fn error_code(&self) -> Option<i64> {
        match self {
            RegistryError::Refused { error_code, .. } => Some(*error_code),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: u32,
    pub schema: String,
}

#[derive(Clone)]
pub struct RegistryClient {
    base: String,
    http: reqwest::Client,
    cache: Arc<RwLock<HashMap<u32, Arc<Schema>>>>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: i64,
    message: String,
}

impl RegistryClient {
    pub fn new(base_url: &str) -> RegistryClient {
        RegistryClient {
            base: base_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("static client settings"),
            cache: Arc::default(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, RegistryError> {
        let resp = req
            .header(reqwest::header::ACCEPT, CONTENT_TYPE)
            .send()
            .await
            .map_err(|source| RegistryError::Unreachable { url: self.base.clone(), source })?;
        let status = resp.status();
        let body =
            resp.bytes().await.map_err(|source| RegistryError::Unreachable { url: self.base.clone(), source })?;
        if !status.is_success() {
            let (error_code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(e) => (e.error_code, e.message),
                Err(_) => (status.as_u16() as i64, String::from_utf8_lossy(&body).into_owned()),
            };
            return Err(RegistryError::Refused {
                what: what.to_string(),
                status: status.as_u16(),
                error_code,
                message,
            });
        }
        serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Protocol { what: what.to_string(), detail: e.to_string() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request carrying a JSON body with the registry's content type.
    fn with_body(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body.to_string())
    }

    /// Register `schema` (Avro JSON) under `subject`; returns the global schema id.
    /// Registering the same schema again returns the same id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        #[derive(Deserialize)]
        struct Id {
            id: u32,
        }
        let req =
            self.with_body(reqwest::Method::POST, &format!("/subjects/{subject}/versions"), json!({"schema": schema}));
        Ok(self.call::<Id>(&format!("registering {subject}"), req).await?.id)
    }

    /// Set the compatibility level of `subject` (BACKWARD, FULL, NONE, ...).
    pub async fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), RegistryError> {
        let req = self.with_body(reqwest::Method::PUT, &format!("/config/{subject}"), json!({"compatibility": level}));
        self.call::<serde_json::Value>(&format!("setting compatibility of {subject}"), req).await?;
        Ok(())
    }

    /// Would `schema` be accepted as the next version of `subject`?
    pub async fn is_compatible(&self, subject: &str, schema: &str) -> Result<bool, RegistryError> {
        #[derive(Deserialize)]
        struct Compat {
            is_compatible: bool,
        }
        let path = format!("/compatibility/subjects/{subject}/versions/latest");
        let req = self.with_body(reqwest::Method::POST, &path, json!({"schema": schema}));
        Ok(self.call::<Compat>(&format!("compatibility check of {subject}"), req).await?.is_compatible)
    }

    pub async fn latest(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
        self.call(
            &format!("latest of {subject}"),
            self.http.get(self.url(&format!("/subjects/{subject}/versions/latest"))),
        )
        .await
    }

    /// A version of a subject; `version < 0` is the latest.
    pub async fn version(&self, subject: &str, version: i32) -> Result<SubjectVersion, RegistryError> {
        let v = if version < 0 { "latest".to_string() } else { version.to_string() };
        self.call(
            &format!("version {v} of {subject}"),
            self.http.get(self.url(&format!("/subjects/{subject}/versions/{v}"))),
        )
        .await
    }

    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        self.call("listing subjects", self.http.get(self.url("/subjects"))).await
    }

    /// The schema text of a global id.
    pub async fn schema_text(&self, id: u32) -> Result<String, RegistryError> {
        #[derive(Deserialize)]
        struct S {
            schema: String,
        }
        Ok(self
            .call::<S>(&format!("schema id {id}"), self.http.get(self.url(&format!("/schemas/ids/{id}"))))
            .await?
            .schema)
    }

    /// The parsed writer schema of a global id, cached: ids never change meaning.
    pub async fn schema(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        if let Some(s) = self.cache.read().expect("cache lock").get(&id) {
            return Ok(s.clone());
        }
        let text = self.schema_text(id).await?;
        let schema =
            Arc::new(Schema::parse_str(&text).map_err(|e| RegistryError::BadSchema { id, source: Box::new(e) })?);
        self.cache.write().expect("cache lock").insert(id, schema.clone());
        Ok(schema)
    }
}
