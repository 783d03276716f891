//! An open-loop HTTP load generator for the API benchmark (`benches/api`).
//!
//! Requests follow a fixed schedule: request `i` is due at `start + i / rate`, whatever
//! happened to the ones before it. A pacing thread releases each request at its due time
//! into one queue, and `connections` workers, each holding one keep-alive HTTP/1.1
//! connection, take them in order. Latency is measured from the **due time** to the last
//! byte of the body, so a stall of the server (or of this process) shows in every request
//! that was due while it lasted, not only in the few that were on the wire (no coordinated
//! omission, as wrk2 measures). The time from the due time to the actual send is recorded
//! too (`send lag`), to tell the generator's own delays from the server's.
//!
//! Every outcome is counted: each status code per target, each transport error by kind,
//! and requests still queued when the grace period after the schedule ran out (`unsent`).
//! Latencies are kept whole and sorted, so percentiles are exact (nearest rank).

mod report;
#[cfg(test)]
mod tests;

use report::summarise;
pub use report::{ms, Latencies, Report, TargetReport};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex};

/// One kind of request: `method` on `url` with `headers` and `body`, chosen in proportion
/// to `weight`.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub method: reqwest::Method,
    pub url: String,
    pub weight: u32,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Target {
    /// A GET of `url`, weight 1, no extra headers.
    pub fn get(name: impl Into<String>, url: impl Into<String>) -> Target {
        Target {
            name: name.into(),
            method: reqwest::Method::GET,
            url: url.into(),
            weight: 1,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A POST of `body` to `url`, weight 1.
    pub fn post(name: impl Into<String>, url: impl Into<String>, body: impl Into<String>) -> Target {
        Target { method: reqwest::Method::POST, body: Some(body.into()), ..Target::get(name, url) }
    }

    pub fn weight(mut self, weight: u32) -> Target {
        self.weight = weight;
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Target {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A load run: `rate` requests per second over all targets, for `warmup` (sent, not
/// recorded) then `duration` (recorded).
#[derive(Debug, Clone)]
pub struct Load {
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    /// Keep-alive connections (one worker each, one request in flight each).
    pub connections: usize,
    /// Per request, from the send to the end of the body; a timeout counts as an error.
    pub timeout: Duration,
    /// After the last due time, how long queued requests may still be sent; the rest
    /// count as `unsent`.
    pub grace: Duration,
    pub targets: Vec<Target>,
}

impl Load {
    /// `rate` req/s for `duration` over `connections`, 1 s warm-up, 10 s timeout and grace.
    pub fn new(rate: f64, duration: Duration, connections: usize, targets: Vec<Target>) -> Load {
        Load {
            rate,
            warmup: Duration::from_secs(1),
            duration,
            connections,
            timeout: Duration::from_secs(10),
            grace: Duration::from_secs(10),
            targets,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("a load needs a rate above 0 req/s, at least one connection and a target of weight above 0")]
    Empty,
    #[error("cannot build an HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The order of targets: smooth weighted round-robin (nginx's), so each target's requests
/// are spread evenly through the schedule, `weight` of every `sum of weights`.
pub fn weighted_order(weights: &[u32], n: usize) -> Vec<usize> {
    let total: i64 = weights.iter().map(|&w| i64::from(w)).sum();
    let mut current = vec![0i64; weights.len()];
    let mut order = Vec::with_capacity(n);
    if total == 0 {
        return order;
    }
    for _ in 0..n {
        for (c, &w) in current.iter_mut().zip(weights) {
            *c += i64::from(w);
        }
        // The first of the largest, so ties go to the earlier target.
        let pick = (0..current.len()).fold(0, |best, i| if current[i] > current[best] { i } else { best });
        current[pick] -= total;
        order.push(pick);
    }
    order
}

/// A request released by the pacer.
struct Job {
    index: u64,
    target: usize,
    due: Instant,
}

enum Outcome {
    Status(u16),
    Error(&'static str),
    Unsent,
}

struct Sample {
    index: u64,
    target: usize,
    due: Instant,
    sent: Option<Instant>,
    done: Instant,
    outcome: Outcome,
    bytes: u64,
}

/// Run `load` and report its recorded part.
pub async fn run(load: &Load) -> Result<Report, LoadError> {
    let weights: Vec<u32> = load.targets.iter().map(|t| t.weight).collect();
    if load.rate.is_nan() || load.rate <= 0.0 || load.connections == 0 || weights.iter().all(|&w| w == 0) {
        return Err(LoadError::Empty);
    }
    let warmup_count = (load.rate * load.warmup.as_secs_f64()).round() as u64;
    let total = warmup_count + (load.rate * load.duration.as_secs_f64()).round() as u64;
    let order = weighted_order(&weights, total as usize);

    let clients = (0..load.connections)
        .map(|_| {
            reqwest::Client::builder()
                .http1_only()
                .no_proxy()
                .tcp_nodelay(true)
                .pool_max_idle_per_host(1)
                .pool_idle_timeout(None)
                .timeout(load.timeout)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;

    // Leave the workers a moment to start before the first due time.
    let start = Instant::now() + Duration::from_millis(20);
    let period = 1.0 / load.rate;
    let due_at = move |i: u64| start + Duration::from_secs_f64(i as f64 * period);
    let last_due = due_at(total.saturating_sub(1));
    let give_up = last_due + load.grace;

    let (tx, rx) = mpsc::unbounded_channel::<Job>();
    // A thread, not a tokio timer: its sleeps are accurate to tens of microseconds where
    // tokio's timer wheel rounds up to the next millisecond.
    let pacer = std::thread::Builder::new()
        .name("load-pacer".into())
        .spawn(move || {
            for (i, &target) in order.iter().enumerate() {
                let due = due_at(i as u64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if tx.send(Job { index: i as u64, target, due }).is_err() {
                    return;
                }
            }
        })
        .expect("spawn the pacing thread");

    let rx = Arc::new(Mutex::new(rx));
    let targets = Arc::new(load.targets.clone());
    let workers: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let rx = rx.clone();
            let targets = targets.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                loop {
                    // The queue's lock is fair, so idle workers take jobs in turn.
                    let job = rx.lock().await.recv().await;
                    let Some(job) = job else { break };
                    samples.push(send(&client, &targets[job.target], job, give_up).await);
                }
                samples
            })
        })
        .collect();

    let mut samples = Vec::with_capacity(total as usize);
    for w in workers {
        samples.extend(w.await.expect("a load worker panicked"));
    }
    pacer.join().expect("the pacing thread panicked");
    Ok(summarise(load, samples, warmup_count, due_at(warmup_count)))
}

async fn send(client: &reqwest::Client, target: &Target, job: Job, give_up: Instant) -> Sample {
    let sent = Instant::now();
    let mut sample = Sample {
        index: job.index,
        target: job.target,
        due: job.due,
        sent: None,
        done: sent,
        outcome: Outcome::Unsent,
        bytes: 0,
    };
    if sent > give_up {
        return sample;
    }
    sample.sent = Some(sent);
    let mut req = client.request(target.method.clone(), &target.url);
    for (k, v) in &target.headers {
        req = req.header(k, v);
    }
    if let Some(body) = &target.body {
        req = req.body(body.clone());
    }
    sample.outcome = match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match resp.bytes().await {
                Ok(body) => {
                    sample.bytes = body.len() as u64;
                    Outcome::Status(status)
                }
                Err(e) => Outcome::Error(error_kind(&e, "body")),
            }
        }
        Err(e) => Outcome::Error(error_kind(&e, "other")),
    };
    sample.done = Instant::now();
    sample
}

fn error_kind(e: &reqwest::Error, fallback: &'static str) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else if e.is_request() {
        "request"
    } else {
        fallback
    }
}
