//! JSON-RPC 2.0 over HTTP to a chain's endpoints. Requests are paced (the providers' rate
//! limits), and what is worth another try (a refused connection, HTTP 429 or 5xx, a "rate
//! limit" error) is tried again with a growing wait, moving to the next endpoint each time;
//! what another try cannot fix (a range too large, pruned history, a bad request) returns at
//! once so the caller can change the request.

use super::metrics::EvmMetrics;
use super::wire::{quantity, EvmLog, Header};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The node refuses this many blocks (or results) in one `eth_getLogs`.
    #[error("{endpoint}: eth_getLogs range too large ({code}: {message})")]
    RangeTooLarge { endpoint: String, code: i64, message: String },
    /// The node no longer keeps this part of the chain (EIP-4444).
    #[error("{endpoint}: {method}: pruned history unavailable ({message}); use an archive endpoint for old blocks")]
    Pruned { endpoint: String, method: String, message: String },
    #[error("{endpoint}: {method}: error {code}: {message}")]
    Node { endpoint: String, method: String, code: i64, message: String },
    #[error("{method}: no endpoint answered after {attempts} tries; last: {last}")]
    Unreachable { method: String, attempts: u32, last: String },
    #[error("{endpoint}: {method}: unexpected answer: {detail}")]
    Garbage { endpoint: String, method: String, detail: String },
}

/// Which logs to ask for: the pools' addresses and the event topics.
#[derive(Debug, Clone)]
pub struct LogFilter {
    pub addresses: Vec<String>,
    pub topic0: Vec<String>,
}

pub struct RpcClient {
    http: reqwest::Client,
    endpoints: Vec<String>,
    current: AtomicUsize,
    /// Least time between two requests.
    spacing: Duration,
    next_slot: tokio::sync::Mutex<Instant>,
    attempts: u32,
    ids: AtomicU64,
    chain: String,
    metrics: Arc<EvmMetrics>,
}

/// One failed try: worth another (`retry`) or final.
enum Failure {
    Retry(String),
    Final(RpcError),
}

impl RpcClient {
    pub fn new(chain: &str, endpoints: Vec<String>, requests_per_second: f64, metrics: Arc<EvmMetrics>) -> RpcClient {
        RpcClient {
            http: reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("HTTP client"),
            endpoints,
            current: AtomicUsize::new(0),
            spacing: Duration::from_secs_f64(1.0 / requests_per_second.max(0.01)),
            next_slot: tokio::sync::Mutex::new(Instant::now()),
            attempts: 8,
            ids: AtomicU64::new(1),
            chain: chain.into(),
            metrics,
        }
    }

    /// The endpoint whose turn `turn` is (turns only grow; they go round the list).
    fn endpoint(&self, turn: usize) -> &str {
        &self.endpoints[turn % self.endpoints.len()]
    }

    async fn pace(&self) {
        let mut next = self.next_slot.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = Instant::now().max(*next) + self.spacing;
    }

    /// Send `body` (one request or a batch) to the current endpoint; the parsed answer.
    async fn post(&self, method: &str, body: &Value) -> Result<Value, RpcError> {
        let mut wait = Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 0..self.attempts {
            let turn = self.current.load(Ordering::Relaxed);
            let endpoint = self.endpoint(turn);
            self.pace().await;
            match self.try_post(endpoint, method, body).await {
                Ok(v) => return Ok(v),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retry(why)) => {
                    self.metrics.rpc_error(&self.chain, endpoint, "retried");
                    tracing::warn!(chain = %self.chain, endpoint, method, attempt, "{why}; trying again");
                    last = format!("{endpoint}: {why}");
                    // The next endpoint, if there is one, takes the next try.
                    // (Unless a concurrent request has moved on already.)
                    let _ = self.current.compare_exchange(turn, turn + 1, Ordering::Relaxed, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        Err(RpcError::Unreachable { method: method.into(), attempts: self.attempts, last })
    }

    async fn try_post(&self, endpoint: &str, method: &str, body: &Value) -> Result<Value, Failure> {
        let resp = self.http.post(endpoint).json(body).send().await.map_err(|e| Failure::Retry(e.to_string()))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| Failure::Retry(e.to_string()))?;
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(Failure::Retry(format!("HTTP {status}: {}", text.chars().take(200).collect::<String>())));
        }
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            Failure::Final(RpcError::Garbage {
                endpoint: endpoint.into(),
                method: method.into(),
                detail: format!("HTTP {status}, not JSON ({e}): {}", text.chars().take(200).collect::<String>()),
            })
        })?;
        // A single answer's error is judged here; a batch's, item by item by the caller.
        if let Some(err) = value.get("error") {
            return Err(self.judge(endpoint, method, err));
        }
        Ok(value)
    }

    fn judge(&self, endpoint: &str, method: &str, err: &Value) -> Failure {
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        let message = err.get("message").and_then(Value::as_str).unwrap_or("").to_string();
        let m = message.to_ascii_lowercase();
        let (endpoint, method) = (endpoint.to_string(), method.to_string());
        if m.contains("rate") || m.contains("too many requests") || m.contains("capacity") {
            return Failure::Retry(format!("error {code}: {message}"));
        }
        if code == 4444 || m.contains("pruned") {
            self.metrics.rpc_error(&self.chain, &endpoint, "pruned");
            return Failure::Final(RpcError::Pruned { endpoint, method, message });
        }
        let too_much = ["range", "more than", "too large", "too many", "response size", "limit"];
        if method == "eth_getLogs" && (code == -32005 || too_much.iter().any(|w| m.contains(w))) {
            self.metrics.rpc_error(&self.chain, &endpoint, "range");
            return Failure::Final(RpcError::RangeTooLarge { endpoint, code, message });
        }
        self.metrics.rpc_error(&self.chain, &endpoint, "node");
        Failure::Final(RpcError::Node { endpoint, method, code, message })
    }

    fn request(&self, method: &str, params: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": self.ids.fetch_add(1, Ordering::Relaxed), "method": method, "params": params})
    }

    fn garbage(&self, method: &str, detail: impl Into<String>) -> RpcError {
        let endpoint = self.endpoint(self.current.load(Ordering::Relaxed)).to_string();
        RpcError::Garbage { endpoint, method: method.into(), detail: detail.into() }
    }

    /// `method(params)`'s result.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let mut answer = self.post(method, &self.request(method, params)).await?;
        answer.get_mut("result").map(Value::take).ok_or_else(|| self.garbage(method, "no result"))
    }

    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        let v = self.call("eth_chainId", json!([])).await?;
        v.as_str().ok_or("not a string".to_string()).and_then(quantity).map_err(|e| self.garbage("eth_chainId", e))
    }

    pub async fn block_number(&self) -> Result<u64, RpcError> {
        let v = self.call("eth_blockNumber", json!([])).await?;
        v.as_str().ok_or("not a string".to_string()).and_then(quantity).map_err(|e| self.garbage("eth_blockNumber", e))
    }

    /// The headers of `numbers`, in batches of 50 (`None`: the node has no such block).
    pub async fn headers(&self, numbers: &[u64]) -> Result<Vec<Option<Header>>, RpcError> {
        let mut out = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(50) {
            out.extend(self.header_batch(chunk).await?);
        }
        Ok(out)
    }

    /// One batch of headers. Providers limit the calls of a batch as well as the requests,
    /// answering the calls over their limit with a rate-limit error each: the answered ones
    /// are kept and the refused ones go again in a batch of their own after a pause. Only
    /// rounds that get none answered count against the attempts.
    async fn header_batch(&self, numbers: &[u64]) -> Result<Vec<Option<Header>>, RpcError> {
        const METHOD: &str = "eth_getBlockByNumber";
        const FIRST_WAIT: Duration = Duration::from_millis(200);
        let mut got: Vec<Option<Option<Header>>> = vec![None; numbers.len()];
        let mut pending: Vec<usize> = (0..numbers.len()).collect();
        let (mut fruitless, mut wait) = (0u32, FIRST_WAIT);
        while !pending.is_empty() {
            let calls: Vec<Value> =
                pending.iter().map(|i| self.request(METHOD, json!([format!("{:#x}", numbers[*i]), false]))).collect();
            let answer = self.post(METHOD, &Value::Array(calls.clone())).await?;
            let Value::Array(items) = answer else {
                return Err(self.garbage(METHOD, "a batch answered by a non-array"));
            };
            let endpoint = self.endpoint(self.current.load(Ordering::Relaxed)).to_string();
            let (mut again, mut last) = (Vec::new(), String::new());
            for (i, call) in pending.iter().zip(&calls) {
                let item = items
                    .iter()
                    .find(|a| a.get("id") == call.get("id"))
                    .ok_or_else(|| self.garbage(METHOD, format!("batch answer without id {}", call["id"])))?;
                if let Some(err) = item.get("error") {
                    match self.judge(&endpoint, METHOD, err) {
                        Failure::Final(e) => return Err(e),
                        Failure::Retry(why) => {
                            last = why;
                            again.push(*i);
                            continue;
                        }
                    }
                }
                got[*i] = Some(match item.get("result") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(Header::from_json(v.clone()).map_err(|e| self.garbage(METHOD, e))?),
                });
            }
            if again.is_empty() {
                break;
            }
            // A round that got some answered waits the least; one that got none, longer each
            // time, and too many of those in a row give up.
            let progressed = again.len() < pending.len();
            fruitless = if progressed { 0 } else { fruitless + 1 };
            if fruitless >= self.attempts {
                return Err(RpcError::Unreachable { method: METHOD.into(), attempts: self.attempts, last });
            }
            if progressed {
                wait = FIRST_WAIT;
            }
            self.metrics.rpc_error(&self.chain, &endpoint, "retried");
            tracing::warn!(chain = %self.chain, endpoint, calls = again.len(), of = pending.len(), "{last}; asking for those again");
            tokio::time::sleep(wait).await;
            if !progressed {
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            pending = again;
        }
        got.into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.garbage(METHOD, "a call of the batch was never answered"))
    }

    pub async fn header(&self, number: u64) -> Result<Option<Header>, RpcError> {
        Ok(self.headers(&[number]).await?.pop().flatten())
    }

    /// The logs of `filter` in blocks `from..=to`; a log the node writes wrongly is counted,
    /// said and left out (`garbage` grows).
    pub async fn logs(&self, from: u64, to: u64, filter: &LogFilter) -> Result<Vec<EvmLog>, RpcError> {
        let params = json!([{
            "fromBlock": format!("{from:#x}"),
            "toBlock": format!("{to:#x}"),
            "address": filter.addresses,
            "topics": [filter.topic0],
        }]);
        let v = self.call("eth_getLogs", params).await?;
        let Value::Array(items) = v else { return Err(self.garbage("eth_getLogs", "result is not an array")) };
        let mut logs = Vec::with_capacity(items.len());
        for item in items {
            match EvmLog::from_json(item) {
                Ok(l) => logs.push(l),
                Err(e) => {
                    self.metrics.garbage_log(&self.chain);
                    tracing::error!(chain = %self.chain, from, to, "a log the node wrote wrongly is left out: {e}");
                }
            }
        }
        Ok(logs)
    }

    /// A read-only contract call's 32-byte words (`eth_call` at the latest block).
    pub async fn eth_call(&self, to: &str, data: &str) -> Result<Vec<u8>, RpcError> {
        let v = self.call("eth_call", json!([{"to": to, "data": data}, "latest"])).await?;
        let text = v.as_str().ok_or_else(|| self.garbage("eth_call", "result is not a string"))?;
        tickwatch_model::hex::hex_bytes(text).map_err(|e| self.garbage("eth_call", e))
    }
}
