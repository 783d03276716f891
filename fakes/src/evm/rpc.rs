//! JSON-RPC 2.0 over HTTP POST: single calls and batches, on `/` (and any other path, as
//! providers put API keys in it). Latency, 503s and 429s come before the node reads the call.

use super::chain::Chain;
use super::faults::{Gate, Refusal};
use super::methods::{self, RpcError};
use super::NodeFaults;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

struct Node {
    chain: Chain,
    gate: Gate,
}

fn envelope(id: Value, outcome: Result<Value, RpcError>) -> Value {
    match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()}),
    }
}

impl Node {
    fn faults(&self) -> &NodeFaults {
        self.gate.faults()
    }

    /// One call of a request: counted by method, then answered.
    fn answer(&self, call: &Value) -> Value {
        let id = call.get("id").cloned().unwrap_or(Value::Null);
        let (Some(method), true) = (call.get("method").and_then(Value::as_str), call.is_object()) else {
            return envelope(id, Err(RpcError::new(-32600, "invalid request")));
        };
        let params = call.get("params").cloned().unwrap_or(Value::Null);
        let mut state = self.chain.lock();
        *state.requests.entry(method.to_string()).or_default() += 1;
        envelope(id, methods::answer(&state, self.faults(), method, &params))
    }
}

fn rate_limited(limit: u32, request: Option<&Value>) -> Response {
    // A batch has no single id; the error then carries null, as for a parse error.
    let id = request.and_then(|r| r.get("id")).cloned().unwrap_or(Value::Null);
    let error = RpcError::new(-32005, format!("rate limit exceeded: over {limit} requests per second"));
    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], axum::Json(envelope(id, Err(error)))).into_response()
}

fn over_the_batch_cap(cap: usize, call: &Value) -> Value {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    envelope(id, Err(RpcError::new(429, format!("Too many requests: at most {cap} calls of a batch are answered"))))
}

async fn handle(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let latency = node.faults().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let request: Result<Value, _> = serde_json::from_slice(&body);
    match node.gate.admit() {
        Err(Refusal::Unavailable) => {
            let text = "503 Service Unavailable: the node is restarting, try again later";
            return (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/plain")], text).into_response();
        }
        Err(Refusal::RateLimited) => {
            return rate_limited(node.faults().requests_per_second.unwrap_or_default(), request.as_ref().ok());
        }
        Ok(()) => {}
    }
    let reply = match request {
        Err(_) => envelope(Value::Null, Err(RpcError::new(-32700, "parse error"))),
        Ok(Value::Array(calls)) if calls.is_empty() => envelope(Value::Null, Err(RpcError::new(-32600, "empty batch"))),
        Ok(Value::Array(calls)) => {
            let cap = node.faults().batch_calls.unwrap_or(usize::MAX);
            let answers =
                calls
                    .iter()
                    .enumerate()
                    .map(|(i, call)| if i < cap { node.answer(call) } else { over_the_batch_cap(cap, call) });
            Value::Array(answers.collect())
        }
        Ok(call) => node.answer(&call),
    };
    axum::Json(reply).into_response()
}

pub(crate) async fn serve(listener: tokio::net::TcpListener, chain: Chain, faults: NodeFaults) {
    let node = Arc::new(Node { chain, gate: Gate::new(faults) });
    let app = axum::Router::new()
        .route("/", axum::routing::post(handle))
        .fallback(axum::routing::post(handle))
        .with_state(node);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "fake EVM node stopped");
    }
}
