//! The local stack is what it claims to be: each server answers its own protocol on
//! loopback. (Functional tests of each live beside the code that uses it.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_testkit::stack;

#[tokio::test]
async fn clickhouse_speaks_http_and_is_recent() {
    let ch = ClickHouse::new(&stack().settings.clickhouse);
    let version = ch.execute("SELECT version()").await.unwrap();
    let major: u32 = version.trim().split('.').next().unwrap().parse().unwrap();
    assert!(major >= 24, "ClickHouse {version} lacks what the DDL uses");
    let err = ch.execute("SELECT no_such_function()").await.unwrap_err().to_string();
    assert!(err.contains("no_such_function"), "{err}");
}

#[test]
fn redis_answers_resp() {
    let addr = stack().redis_url.trim_start_matches("redis://").split('/').next().unwrap().to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"*3\r\n$3\r\nSET\r\n$12\r\ntw-stack-key\r\n$2\r\nok\r\n*2\r\n$3\r\nGET\r\n$12\r\ntw-stack-key\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !got.ends_with(b"ok\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "redis closed the connection");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"+OK\r\n$2\r\nok\r\n");
}

#[tokio::test]
async fn prometheus_scrapes() {
    let url = format!("{}/api/v1/query?query=up%7Bjob%3D%22prometheus%22%7D", stack().prometheus_url);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        if body["data"]["result"][0]["value"][1] == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus never scraped itself: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn s3_checks_signatures() {
    let stack = stack();
    // An unsigned request is refused: this is a real SigV4-checking S3 API. (The broker keeps
    // its log here only with TW_BROKER_STORAGE=s3; `broker_durability.rs` checks that mode.)
    let resp = reqwest::get(format!("{}/tickwatch", stack.s3_endpoint)).await.unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::FORBIDDEN);
    // A well-formed request signed with the wrong signature: refused as such.
    let now = amz_date();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=tickwatch/{}/us-east-1/s3/aws4_request, \
         SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={}",
        &now[..8],
        "0".repeat(64)
    );
    let garbage = reqwest::Client::new()
        .get(format!("{}/tickwatch", stack.s3_endpoint))
        .header("x-amz-date", &now)
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), reqwest::StatusCode::FORBIDDEN, "a wrong signature is refused too");
    assert!(garbage.text().await.unwrap().contains("SignatureDoesNotMatch"));
}

/// Now as `YYYYMMDDTHHMMSSZ` (UTC).
fn amz_date() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = tickwatch_model::time::civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3_600, rem % 3_600 / 60, rem % 60)
}
