//! The stages the dashboard test runs, and what it reads back from the API and the page.

use crate::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_testkit::webdriver::Browser;
use tickwatch_testkit::{repo_root, ChildGuard};

pub fn log_path(prefix: &str, name: &str) -> PathBuf {
    let dir = repo_root().join("target/test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{prefix}-{name}.log"))
}

/// `tickwatch --config <settings> <args>`, its log in target/test-logs/<prefix>-<name>.log.
pub fn spawn(settings: &std::path::Path, prefix: &str, name: &str, args: &[&str]) -> ChildGuard {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log_path(prefix, name)).unwrap();
    let child = Command::new(BIN)
        .arg("--config")
        .arg(settings)
        .args(args)
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("tickwatch {args:?}: {e}"));
    ChildGuard(child)
}

/// A 64-bit integer, quoted or not (ClickHouse's JSON quotes them).
pub fn int(v: &Value) -> i64 {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(-1)
}

pub async fn count(ch: &ClickHouse, sql: &str) -> i64 {
    match ch.query_rows(sql).await {
        Ok(rows) => rows.first().map_or(0, |r| int(&r["n"])),
        Err(_) => 0,
    }
}

/// Every item of a list endpoint; a paged one (history) is read page by page, following
/// `next_cursor`, as the dashboard reads it.
pub async fn api_items(http: &reqwest::Client, base: &str, path: &str, query: &[(&str, String)]) -> Vec<Value> {
    let paged = ["/api/v1/klines", "/api/v1/spreads", "/api/v1/divergence"].contains(&path);
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q: Vec<(&str, String)> = query.to_vec();
        if paged {
            q.push(("limit", "5000".into()));
        }
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let resp = http.get(format!("{base}{path}")).query(&q).send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "{path} {q:?}: {status} {body}");
        items.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
}

/// What the page shows of each panel, for failure messages.
pub const PAGE_STATE: &str = "return {
    status: document.getElementById('status').textContent,
    ready: document.body.dataset.ready || null,
    charts: ['klines', 'spreads', 'divergence'].map((n) => {
        const c = document.getElementById('chart-' + n);
        return [n, c.dataset.state, c.dataset.points, c.dataset.series];
    }),
    tables: ['alerts', 'quality'].map((n) => {
        const t = document.getElementById('table-' + n);
        return [n, t.dataset.state, t.dataset.rows];
    }),
    messages: [...document.querySelectorAll('.message:not([hidden])')].map((m) => m.id + ': ' + m.textContent),
    url: location.href,
};";

pub async fn page_state(browser: &Browser) -> String {
    let state = browser.execute(PAGE_STATE, vec![]).await.map(|v| v.to_string()).unwrap_or_else(|e| e.to_string());
    let console = browser.console().await;
    format!("page: {state}\nconsole: {console:#?}")
}
