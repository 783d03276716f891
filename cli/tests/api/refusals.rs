//! Errors that name the fix, API keys and rate limits.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tickwatch_testkit::{stack, unique};

#[tokio::test(flavor = "multi_thread")]
async fn refusals_name_the_fix_and_keys_and_limits_hold() {
    let _serial = SERIAL.lock().await;
    let prefix = unique("apie");
    let keys = "api_keys:\n  keys:\n    - {name: tenant-a, key: {value: key-a}, rate: {per_second: 0.2, burst: 4}, venues: [okx]}\n";
    let (_api, base) = api(&prefix, "api", &config(&prefix, keys)).await;
    let cases = [
        ("/api/v1/klines?venue=binance", 400, "bad_parameter", Some("instrument")),
        ("/api/v1/klines?venue=nowhere&instrument=BTC-USDT", 400, "bad_parameter", Some("venue")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&interval=7m", 400, "bad_parameter", Some("interval")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&from=yesterday", 400, "bad_parameter", Some("from")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&from=2000&to=1000", 400, "bad_parameter", Some("from")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&limit=0", 400, "bad_parameter", Some("limit")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&limit=5001", 400, "bad_parameter", Some("limit")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&cursor=zz", 400, "bad_parameter", Some("cursor")),
        // A well-formed cursor of another route ([0, ""]: two keys; k-lines page by one).
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&cursor=5b302c22225d", 400, "bad_parameter", Some("cursor")),
        // One key of the wrong type (["x"] where k-lines page by a time).
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&cursor=5b2278225d", 400, "bad_parameter", Some("cursor")),
        ("/api/v1/klines?venue=binance&instrument=BTC-USDT&from=0&to=99999999999", 400, "bad_parameter", Some("to")),
        ("/api/v1/latest?instrumnet=BTC-USDT", 400, "bad_parameter", Some("instrumnet")),
        ("/api/v1/alerts?state=sleeping", 400, "bad_parameter", Some("state")),
        ("/api/v1/klines?venue=binance&instrument=DOGE-USDT", 404, "unknown_instrument", None),
        ("/api/v1/spreads?instrument=NOPE-USDT", 404, "unknown_instrument", None),
        ("/api/v1/nothing", 404, "unknown_route", None),
    ];
    for (path, status, code, parameter) in cases {
        let (s, body) = get(&base, path, None).await;
        assert_eq!(s.as_u16(), status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert_eq!(body["error"]["parameter"].as_str(), parameter, "{path}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }

    // A tenant: its venues only, its own bucket, then 429 with Retry-After.
    let (s, body) = get(&base, "/api/v1/instruments", Some("key-a")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["items"].as_array().unwrap().iter().all(|i| i["venue"] == "okx"), "{body}");
    let (s, body) = get(&base, "/api/v1/klines?venue=binance&instrument=BTC-USDT", Some("key-a")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("venue_forbidden")));
    let (s, _) = get(&base, "/api/v1/latest?venue=okx", Some("key-a")).await;
    assert_eq!(s, StatusCode::OK);
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/latest?venue=okx"))
        .header("X-API-Key", "key-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the 4th token of the burst");
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/latest?venue=okx"))
        .header("X-API-Key", "key-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    // Other callers have their own buckets.
    assert_eq!(get(&base, "/api/v1/latest?venue=okx", None).await.0, StatusCode::OK);
    let (s, body) = get(&base, "/api/v1/latest", Some("wrong")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_api_key")));

    // Silences: create, list, shared with the notifier's store, delete.
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/silences"))
        .json(&json!({"matchers": {"rule": "spread_wide", "instrument": "BTC-USDT"}, "duration": "2h", "comment": "maintenance"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["ends_at_ms"].as_i64().unwrap() - created["starts_at_ms"].as_i64().unwrap(), 7_200_000);
    let mut store = tickwatch_alerts::silences::Silences::new(&stack().redis_url, &format!("{prefix}:alerts:"));
    let stored = store.list().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].id.as_str(), stored[0].matchers["rule"].as_str()), (id.as_str(), "spread_wide"));
    let listed = ok(&base, "/api/v1/silences").await;
    assert_eq!(listed["items"][0]["id"], json!(id));
    let bad = client
        .post(format!("{base}/api/v1/silences"))
        .json(&json!({"matchers": {}, "duration": "2h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["parameter"], "matchers");
    let bad = client
        .post(format!("{base}/api/v1/silences"))
        .json(&json!({"matchers": {"rule": "x"}, "duration": "soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.json::<Value>().await.unwrap()["error"]["parameter"], "duration");
    assert_eq!(
        client.delete(format!("{base}/api/v1/silences/{id}")).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        client.delete(format!("{base}/api/v1/silences/{id}")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert!(store.list().unwrap().is_empty());

    // Keys required: a request without one is refused, with one it passes.
    let required = "api_keys:\n  require: true\n  keys:\n    - {name: t, key: {value: key-t}}\n";
    let (_api2, base2) = api(&prefix, "api2", &config(&prefix, required)).await;
    let (s, body) = get(&base2, "/api/v1/instruments", None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("api_key_required")));
    assert_eq!(get(&base2, "/api/v1/instruments", Some("key-t")).await.0, StatusCode::OK);
    assert_eq!(get(&base2, "/healthz", None).await.0, StatusCode::OK);
}
