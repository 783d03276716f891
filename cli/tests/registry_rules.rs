//! The local Schema Registry against its contract: Confluent's REST API and error codes,
//! BACKWARD compatibility with Avro resolution rules, idempotent registration, and ids that
//! survive a restart. All against the real registry process on the real broker (Tansu).

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Command;
use tickwatch_testkit::{free_port, settings_with_registry, stack, unique, wait_http, ChildGuard};

const CT: &str = "application/vnd.schemaregistry.v1+json";

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(base: &str) -> Api {
        Api { base: base.trim_end_matches('/').to_string(), http: reqwest::Client::new() }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.header("content-type", CT).body(b.to_string());
        }
        let resp = req.send().await.expect("registry answers");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn register(&self, subject: &str, schema: &Value) -> (StatusCode, Value) {
        self.post(&format!("/subjects/{subject}/versions"), json!({"schema": schema.to_string()})).await
    }
}

fn record(fields: Value) -> Value {
    json!({"type": "record", "name": "Quote", "namespace": "test.tickwatch", "fields": fields})
}

fn v1() -> Value {
    record(json!([{"name": "venue", "type": "string"}, {"name": "bid", "type": "long"}]))
}

#[tokio::test]
async fn registration_is_idempotent_and_ids_are_global() {
    let api = Api::new(&stack().settings.registry.url);
    let subject = unique("idem-value");
    let (s, first) = api.register(&subject, &v1()).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let id = first["id"].as_u64().unwrap();
    // Same schema again, and the same schema with other whitespace and key order: same id.
    assert_eq!(api.register(&subject, &v1()).await.1["id"].as_u64(), Some(id));
    let reordered = r#"{ "namespace": "test.tickwatch", "name": "Quote", "type": "record",
        "fields": [ {"type": "string", "name": "venue"}, {"name": "bid", "type": "long"} ] }"#;
    let (_, again) = api.post(&format!("/subjects/{subject}/versions"), json!({"schema": reordered})).await;
    assert_eq!(again["id"].as_u64(), Some(id));
    assert_eq!(api.get(&format!("/subjects/{subject}/versions")).await.1, json!([1]));
    // The same schema under another subject keeps its global id.
    let other = unique("idem2-value");
    assert_eq!(api.register(&other, &v1()).await.1["id"].as_u64(), Some(id));
    let (_, by_id) = api.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(serde_json::from_str::<Value>(by_id["schema"].as_str().unwrap()).unwrap(), v1());
    let (_, raw) = api.get(&format!("/subjects/{subject}/versions/1/schema")).await;
    assert_eq!(raw, v1(), "the /schema endpoint returns the schema itself");
    let (_, usages) = api.get(&format!("/schemas/ids/{id}/versions")).await;
    assert!(usages.as_array().unwrap().contains(&json!({"subject": other, "version": 1})));
    // Lookup of a registered schema under the subject.
    let (s, found) = api.post(&format!("/subjects/{subject}"), json!({"schema": v1().to_string()})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((found["id"].as_u64(), found["version"].as_i64()), (Some(id), Some(1)));
}

#[tokio::test]
async fn backward_compatibility_rules() {
    let api = Api::new(&stack().settings.registry.url);
    let subject = unique("compat-value");
    let id1 = api.register(&subject, &v1()).await.1["id"].as_u64().unwrap();
    assert_eq!(api.get(&format!("/config/{subject}?defaultToGlobal=true")).await.1["compatibilityLevel"], "BACKWARD");

    // An added field with a default: new readers read old data. Accepted as version 2.
    let v2 = record(json!([{"name": "venue", "type": "string"}, {"name": "bid", "type": "long"},
        {"name": "ask", "type": ["null", "long"], "default": null}]));
    let (s, body) = api.register(&subject, &v2).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let id2 = body["id"].as_u64().unwrap();
    assert_ne!(id1, id2);

    // A type change (long -> string) is refused with 409.
    let changed = record(json!([{"name": "venue", "type": "string"}, {"name": "bid", "type": "string"},
        {"name": "ask", "type": ["null", "long"], "default": null}]));
    let (s, body) = api.register(&subject, &changed).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error_code"], 409);
    assert!(body["message"].as_str().unwrap().contains("incompatible"), "{body}");

    // A new required field (no default): new readers cannot read old data. 409.
    let required = record(json!([{"name": "venue", "type": "string"}, {"name": "bid", "type": "long"},
        {"name": "ask", "type": ["null", "long"], "default": null}, {"name": "seq", "type": "long"}]));
    assert_eq!(api.register(&subject, &required).await.0, StatusCode::CONFLICT);

    // The compatibility endpoint agrees, with reasons when verbose.
    let (_, c) = api
        .post(
            &format!("/compatibility/subjects/{subject}/versions/latest?verbose=true"),
            json!({"schema": changed.to_string()}),
        )
        .await;
    assert_eq!(c["is_compatible"], false);
    assert!(!c["messages"].as_array().unwrap().is_empty());
    let (_, c) = api
        .post(&format!("/compatibility/subjects/{subject}/versions/latest"), json!({"schema": v2.to_string()}))
        .await;
    assert_eq!(c, json!({"is_compatible": true}));

    // Removing a required field: under BACKWARD (Confluent and Redpanda semantics) new readers
    // just ignore it, so it is allowed; under FORWARD or FULL old readers would miss it: 409.
    let removed = record(
        json!([{"name": "venue", "type": "string"}, {"name": "ask", "type": ["null", "long"], "default": null}]),
    );
    let (_, c) = api
        .post(&format!("/compatibility/subjects/{subject}/versions/latest"), json!({"schema": removed.to_string()}))
        .await;
    assert_eq!(c["is_compatible"], true);
    let (s, _) =
        api.send(reqwest::Method::PUT, &format!("/config/{subject}"), Some(json!({"compatibility": "FULL"}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = api.register(&subject, &removed).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error_code"], 409);
    assert_eq!(api.get(&format!("/subjects/{subject}/versions")).await.1, json!([1, 2]));
}

#[tokio::test]
async fn errors_have_confluent_codes() {
    let api = Api::new(&stack().settings.registry.url);
    let missing = unique("missing-value");
    let (s, b) = api.get(&format!("/subjects/{missing}/versions/latest")).await;
    assert_eq!((s, b["error_code"].as_i64()), (StatusCode::NOT_FOUND, Some(40401)));
    let subject = unique("errs-value");
    api.register(&subject, &v1()).await;
    let (s, b) = api.get(&format!("/subjects/{subject}/versions/7")).await;
    assert_eq!((s, b["error_code"].as_i64()), (StatusCode::NOT_FOUND, Some(40402)));
    let (s, b) = api.get(&format!("/subjects/{subject}/versions/zero")).await;
    assert_eq!((s, b["error_code"].as_i64()), (StatusCode::UNPROCESSABLE_ENTITY, Some(42202)));
    let (s, b) = api.get("/schemas/ids/99999999").await;
    assert_eq!((s, b["error_code"].as_i64()), (StatusCode::NOT_FOUND, Some(40403)));
    let (s, b) = api.post(&format!("/subjects/{subject}/versions"), json!({"schema": "{\"type\": \"recrod\"}"})).await;
    assert_eq!((s, b["error_code"].as_i64()), (StatusCode::UNPROCESSABLE_ENTITY, Some(42201)));
    let (s, b) = api.send(reqwest::Method::PUT, "/config/x-value", Some(json!({"compatibility": "SIDEWAYS"}))).await;
    assert_eq!((s, b["error_code"].as_i64()), (StatusCode::UNPROCESSABLE_ENTITY, Some(42203)));
    // Soft delete hides the subject; permanent delete needs a soft delete first.
    let (s, b) = api.send(reqwest::Method::DELETE, &format!("/subjects/{subject}?permanent=true"), None).await;
    assert_eq!((s, b["error_code"].as_i64()), (StatusCode::NOT_FOUND, Some(40405)));
    assert_eq!(api.send(reqwest::Method::DELETE, &format!("/subjects/{subject}"), None).await.1, json!([1]));
    assert_eq!(api.get(&format!("/subjects/{subject}/versions")).await.0, StatusCode::NOT_FOUND);
    assert!(api.get("/subjects?deleted=true").await.1.as_array().unwrap().contains(&json!(subject)));
    assert_eq!(
        api.send(reqwest::Method::DELETE, &format!("/subjects/{subject}?permanent=true"), None).await.1,
        json!([1])
    );
    assert!(!api.get("/subjects?deleted=true").await.1.as_array().unwrap().contains(&json!(subject)));
}

#[tokio::test]
async fn a_restarted_registry_keeps_every_id() {
    let stack = stack();
    let port = free_port();
    let topic = unique("_schemas_restart");
    let settings = settings_with_registry(stack, port, &topic);
    let url = format!("http://127.0.0.1:{port}");
    let spawn = || {
        let child = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
            .arg("--config")
            .arg(&settings)
            .arg("registry")
            .spawn()
            .expect("tickwatch registry starts");
        let guard = ChildGuard(child);
        wait_http(&format!("{url}/subjects"), 60);
        guard
    };
    let api = Api::new(&url);
    let first = spawn();
    let mut ids = Vec::new();
    for i in 0..5 {
        let schema = record(json!([{"name": format!("f{i}"), "type": "long"}]));
        let (s, b) = api.register(&format!("s{i}-value"), &schema).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        ids.push(b["id"].as_u64().unwrap());
    }
    api.send(reqwest::Method::PUT, "/config/s0-value", Some(json!({"compatibility": "NONE"}))).await;
    drop(first); // SIGKILL: no clean shutdown to lean on

    let _second = spawn();
    // A fresh client: the old one's pooled connection died with the first process.
    let api = Api::new(&url);
    for (i, id) in ids.iter().enumerate() {
        let schema = record(json!([{"name": format!("f{i}"), "type": "long"}]));
        let (_, b) = api.register(&format!("s{i}-value"), &schema).await;
        assert_eq!(b["id"].as_u64(), Some(*id), "subject s{i}-value");
        let (_, latest) = api.get(&format!("/subjects/s{i}-value/versions/latest")).await;
        assert_eq!(latest["version"], 1);
    }
    assert_eq!(api.get("/config/s0-value").await.1["compatibilityLevel"], "NONE");
    // New schemas continue after the highest id, never reusing one.
    let (_, b) = api.register("s9-value", &record(json!([{"name": "new", "type": "int"}]))).await;
    assert_eq!(b["id"].as_u64(), Some(ids.iter().max().unwrap() + 1));
    std::fs::remove_file(settings).ok();
}
