//! A webhook receiver of the test's own: a real HTTP server on 127.0.0.1 that records every
//! request and answers from a script (e.g. 500, then 429 with Retry-After, then 200).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

/// One answer of the receiver.
#[derive(Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub retry_after_secs: Option<u64>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply { status: StatusCode::from_u16(status).unwrap(), retry_after_secs: None, body: body.to_string() }
    }

    pub fn slack_ok() -> Reply {
        Reply::new(200, "ok")
    }

    pub fn lark_ok() -> Reply {
        Reply::new(200, r#"{"code":0,"msg":"success","data":{}}"#)
    }

    pub fn too_many(retry_after_secs: u64) -> Reply {
        Reply { retry_after_secs: Some(retry_after_secs), ..Reply::new(429, "rate_limited") }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub body: serde_json::Value,
    pub at: Instant,
    /// The status it was answered with.
    pub answered: u16,
}

struct Shared {
    script: Mutex<VecDeque<Reply>>,
    otherwise: Reply,
    seen: Mutex<Vec<Captured>>,
    arrivals: mpsc::UnboundedSender<Captured>,
}

pub struct Receiver {
    pub base_url: String,
    shared: Arc<Shared>,
    arrivals: mpsc::UnboundedReceiver<Captured>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Answer the requests with `script` in order, then always with `otherwise`.
    pub async fn start(script: Vec<Reply>, otherwise: Reply) -> Receiver {
        let (tx, arrivals) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into()),
            otherwise,
            seen: Mutex::new(Vec::new()),
            arrivals: tx,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(receive).with_state(shared.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver serves") });
        Receiver { base_url, shared, arrivals, server }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Captured> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The next request, waiting for it (a test that gets none fails after a minute rather
    /// than hanging).
    pub async fn next(&mut self) -> Captured {
        tokio::time::timeout(std::time::Duration::from_secs(60), self.arrivals.recv())
            .await
            .expect("a request reached the receiver within a minute")
            .expect("receiver running")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> (StatusCode, HeaderMap, String) {
    let reply = shared.script.lock().unwrap().pop_front().unwrap_or_else(|| shared.otherwise.clone());
    let captured = Captured {
        path: uri.path().to_string(),
        // Null when the body is not JSON, which the tests then report.
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        at: Instant::now(),
        answered: reply.status.as_u16(),
    };
    shared.seen.lock().unwrap().push(captured.clone());
    let _ = shared.arrivals.send(captured);
    let mut headers = HeaderMap::new();
    if let Some(secs) = reply.retry_after_secs {
        headers.insert("retry-after", HeaderValue::from_str(&secs.to_string()).unwrap());
    }
    (reply.status, headers, reply.body)
}
