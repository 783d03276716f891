//! Every route of the OpenAPI document, with its documented parameters.

use crate::support::*;
use reqwest::StatusCode;
use tickwatch_testkit::unique;

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_route_answers_and_takes_its_documented_parameters() {
    let _serial = SERIAL.lock().await;
    let prefix = unique("apio");
    let (_api, base) = api(&prefix, "api", &config(&prefix, "")).await;
    let doc = ok(&base, "/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 16, "{} paths", paths.len());
    let value = |name: &str| match name {
        "venue" => "binance",
        "venue_b" => "okx",
        "instrument" => "BTC-USDT",
        "interval" => "1m",
        "from" => "2026-01-01T00:00:00Z",
        "to" => "2026-01-02T00:00:00Z",
        "limit" | "depth" => "5",
        "state" => "all",
        "rule" => "x",
        "severity" => "P1",
        "channel" => "trades",
        "pool" => "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640",
        "layer" => "mixed",
        "cursor" => "5b302c22225d", // [0,""]
        _ => "x",
    };
    let mut checked = 0;
    for (path, ops) in paths {
        let Some(op) = ops.get("get") else { continue };
        let params = op["parameters"].as_array().unwrap();
        let mut required: Vec<String> = params
            .iter()
            .filter(|p| p["required"] == true)
            .map(|p| format!("{}={}", p["name"].as_str().unwrap(), value(p["name"].as_str().unwrap())))
            .collect();
        let takes_from = params.iter().any(|p| p["name"] == "from");
        let (s, body) = get(&base, &format!("{path}?{}", required.join("&")), None).await;
        assert_ne!(body["error"]["code"], "unknown_route", "{path}: {body}");
        assert!(s == StatusCode::OK || path == "/api/v1/book", "{path}: {s} {body}");
        if path == "/api/v1/alerts" {
            required.push("state=all".into());
        }
        for p in params.iter().filter(|p| p["required"] != true) {
            let name = p["name"].as_str().unwrap();
            if name == "state" || name == "cursor" {
                // state: set above; cursor: a page's own (covered by the paging test).
                continue;
            }
            let mut q = required.clone();
            q.push(format!("{name}={}", value(name)));
            // History (the hot answers refuse `to`): both ends, one day apart.
            for end in ["from", "to"] {
                if takes_from && name != end {
                    q.push(format!("{end}={}", value(end)));
                }
            }
            let (s, body) = get(&base, &format!("{path}?{}", q.join("&")), None).await;
            assert!(
                !body["error"]["message"].as_str().unwrap_or_default().contains("unknown parameter"),
                "{path} refuses its documented {name}: {body}"
            );
            assert!(s != StatusCode::BAD_REQUEST, "{path}?{}: {body}", q.join("&"));
            checked += 1;
        }
    }
    assert!(checked > 35, "{checked} parameters checked");
    // The dashboard's page is served.
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<html"));
}
