//! The stack's Prometheus from a test: add a scrape target (file service discovery, picked
//! up within a second or two) and read a value back through its HTTP query API.

use crate::Stack;
use std::path::PathBuf;

/// A `/metrics` address the stack's Prometheus scrapes while this lives.
pub struct ScrapeTarget(PathBuf);

impl ScrapeTarget {
    /// Scrape `address` (`127.0.0.1:PORT`) with the label `instance_name=name`.
    pub fn add(stack: &Stack, name: &str, address: &str) -> ScrapeTarget {
        let dir = stack.dir.join("prometheus-targets");
        std::fs::create_dir_all(&dir).expect("create the targets folder");
        let path = dir.join(format!("{name}.json"));
        let body = serde_json::json!([{"targets": [address], "labels": {"instance_name": name}}]);
        // Written whole, then renamed: Prometheus never reads half a file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, body.to_string()).expect("write the target file");
        std::fs::rename(&tmp, &path).expect("move the target file in place");
        ScrapeTarget(path)
    }
}

impl Drop for ScrapeTarget {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The value of an instant query that yields one sample, if it yields one.
pub async fn query_value(stack: &Stack, promql: &str) -> Option<f64> {
    let url = format!("{}/api/v1/query", stack.prometheus_url);
    let answer: serde_json::Value =
        reqwest::Client::new().get(url).query(&[("query", promql)]).send().await.ok()?.json().await.ok()?;
    let result = answer["data"]["result"].as_array()?;
    match result.as_slice() {
        [sample] => sample["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

/// Poll [`query_value`] until it yields a sample (the first scrapes take a second or two);
/// panics after `secs`.
pub async fn wait_for_value(stack: &Stack, promql: &str, secs: u64) -> f64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = query_value(stack, promql).await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "Prometheus never scraped {promql}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
