use super::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[test]
fn quantiles_are_nearest_rank() {
    let l = Latencies::from_micros((1..=100).rev().collect());
    assert_eq!(l.quantile(0.5), Duration::from_micros(50));
    assert_eq!(l.quantile(0.95), Duration::from_micros(95));
    assert_eq!(l.quantile(0.99), Duration::from_micros(99));
    assert_eq!(l.quantile(1.0), Duration::from_micros(100));
    assert_eq!(l.quantile(0.001), Duration::from_micros(1));
    assert_eq!(l.max(), Duration::from_micros(100));
    let one = Latencies::from_micros(vec![7]);
    assert_eq!(one.quantile(0.5), Duration::from_micros(7));
    assert_eq!(Latencies::default().quantile(0.99), Duration::ZERO);
}

#[test]
fn weighted_order_spreads_each_target_evenly() {
    let order = weighted_order(&[3, 1], 8);
    assert_eq!(order, [0, 0, 1, 0, 0, 0, 1, 0]);
    let order = weighted_order(&[5, 0, 2, 3], 1000);
    let count = |t| order.iter().filter(|&&o| o == t).count();
    assert_eq!((count(0), count(1), count(2), count(3)), (500, 0, 200, 300));
    // Within any 10 consecutive requests each target has its share, give or take one.
    for w in order.windows(10) {
        let c = |t| w.iter().filter(|&&o| o == t).count() as i64;
        assert!((c(0) - 5).abs() <= 1 && (c(2) - 2).abs() <= 1 && (c(3) - 3).abs() <= 1, "{w:?}");
    }
    assert!(weighted_order(&[0, 0], 5).is_empty());
}

/// A minimal keep-alive HTTP/1.1 server: `/ok` 200, `POST /echo` with `ping` 200 `pong`,
/// anything else 404, `/drop` closes the
/// connection without an answer, `/stall` holds every answer of the whole server for
/// 300 ms from the first time it is asked. Counts connections and requests.
struct TestServer {
    base: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

async fn test_server() -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let stall_until: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let (c, r) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            c.fetch_add(1, Ordering::SeqCst);
            let (r, stall_until) = (r.clone(), stall_until.clone());
            tokio::spawn(async move {
                let (read, mut write) = sock.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(request_line)) = lines.next_line().await {
                    let mut body_len = 0;
                    while let Ok(Some(header)) = lines.next_line().await {
                        if header.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = header.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                body_len = v.trim().parse().unwrap();
                            }
                        }
                    }
                    let mut body = vec![0u8; body_len];
                    lines.get_mut().read_exact(&mut body).await.unwrap();
                    r.fetch_add(1, Ordering::SeqCst);
                    let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
                    let until = {
                        let mut s = stall_until.lock().unwrap();
                        if path == "/stall" && s.is_none() {
                            *s = Some(Instant::now() + Duration::from_millis(300));
                        }
                        *s
                    };
                    if let Some(until) = until {
                        tokio::time::sleep_until(until.into()).await;
                    }
                    let (status, body) = match path.as_str() {
                        "/ok" | "/stall" => ("200 OK", "ok"),
                        "/echo" if request_line.starts_with("POST ") && body == b"ping" => ("200 OK", "pong"),
                        "/drop" => return,
                        _ => ("404 Not Found", "no"),
                    };
                    let resp = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                    if write.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    TestServer { base, connections, requests }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_the_schedule_over_keep_alive_connections_and_counts_every_status() {
    let server = test_server().await;
    let mut load = Load::new(
        400.0,
        Duration::from_secs(1),
        4,
        vec![
            Target::get("ok", format!("{}/ok", server.base)).weight(3),
            Target::get("missing", format!("{}/missing", server.base)).header("x-test", "1"),
            Target::post("echo", format!("{}/echo", server.base), "ping"),
        ],
    );
    load.rate = 500.0;
    load.warmup = Duration::from_millis(200);
    let report = run(&load).await.unwrap();

    let ok = report.target("ok").unwrap();
    let missing = report.target("missing").unwrap();
    assert_eq!((ok.due(), missing.due()), (300, 100), "the schedule's 500 requests, 3:1:1");
    assert_eq!(ok.statuses, BTreeMap::from([(200, 300)]));
    assert_eq!(missing.statuses, BTreeMap::from([(404, 100)]));
    assert_eq!((ok.non_2xx(), missing.non_2xx()), (0, 100));
    assert_eq!((ok.problems().as_str(), missing.problems().as_str()), ("-", "404×100"));
    assert_eq!((ok.failed(), ok.unsent), (0, 0));
    assert_eq!((ok.latency.len(), ok.service.len(), ok.send_lag.len()), (300, 300, 300));
    assert_eq!(ok.bytes, 600);
    let echo = report.target("echo").unwrap();
    assert_eq!((echo.statuses.clone(), echo.bytes), (BTreeMap::from([(200, 100)]), 400));
    assert_eq!(server.requests.load(Ordering::SeqCst), 600, "warm-up requests are sent, not recorded");
    let conns = server.connections.load(Ordering::SeqCst);
    assert!((1..=4).contains(&conns), "{conns} connections for 4 workers: keep-alive");
    // Latency counts from the due time, so it is never below the time on the wire.
    assert!(ok.latency.max() >= ok.service.max());
    assert!(report.achieved_rate() > 0.0 && report.elapsed >= Duration::from_millis(990));
}

/// A 300 ms stall of the whole server shows in every request that was due during it,
/// as it would for a user, not only in the two that were in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stall_shows_in_the_requests_due_during_it() {
    let server = test_server().await;
    let mut load = Load::new(
        500.0,
        Duration::from_secs(2),
        2,
        vec![
            Target::get("ok", format!("{}/ok", server.base)).weight(999),
            Target::get("stall", format!("{}/stall", server.base)),
        ],
    );
    load.warmup = Duration::ZERO;
    let report = run(&load).await.unwrap();
    let ok = report.target("ok").unwrap();
    assert_eq!(ok.answered() + report.target("stall").unwrap().answered(), 1000);
    // About 150 of the 1 000 requests were due during the stall, waiting up to 300 ms:
    // about 50 waited over 200 ms. A closed-loop count would see two slow requests.
    assert!(ok.latency.quantile(0.95) >= Duration::from_millis(100), "p95 {:?}", ok.latency.quantile(0.95));
    assert!(ok.latency.max() >= Duration::from_millis(250), "max {:?}", ok.latency.max());
    let slow = |l: &Latencies| l.sorted_us.iter().filter(|&&us| us >= 100_000).count();
    assert!(slow(&ok.latency) >= 50, "{} requests over 100 ms", slow(&ok.latency));
    assert!(slow(&ok.service) <= 4, "{} sends over 100 ms on the wire", slow(&ok.service));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_errors_are_counted_not_dropped() {
    let server = test_server().await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let mut load = Load::new(
        200.0,
        Duration::from_millis(500),
        2,
        vec![
            Target::get("ok", format!("{}/ok", server.base)),
            Target::get("drop", format!("{}/drop", server.base)),
            Target::get("refused", format!("http://{closed}/ok")),
        ],
    );
    load.warmup = Duration::ZERO;
    let report = run(&load).await.unwrap();
    assert_eq!(report.due(), 100);
    let (ok, drop, refused) =
        (report.target("ok").unwrap(), report.target("drop").unwrap(), report.target("refused").unwrap());
    assert_eq!(ok.statuses, BTreeMap::from([(200, 34)]));
    assert_eq!((drop.answered(), drop.failed(), drop.due()), (0, 33, 33), "{:?}", drop.errors);
    assert_eq!(refused.errors, BTreeMap::from([("connect", 33)]));
    assert!(refused.latency.is_empty());
}

#[tokio::test]
async fn an_empty_load_is_refused() {
    let load = Load::new(100.0, Duration::from_secs(1), 1, vec![Target::get("a", "http://127.0.0.1:1/").weight(0)]);
    assert!(matches!(run(&load).await, Err(LoadError::Empty)));
    let load = Load::new(0.0, Duration::from_secs(1), 1, vec![Target::get("a", "http://127.0.0.1:1/")]);
    assert!(matches!(run(&load).await, Err(LoadError::Empty)));
}
