//! The Grafana dashboard of `grafana/` (the official ClickHouse plugin) against the stack's real
//! ClickHouse. First its shape: every panel and variable on the plugin's datasource, the
//! variables and panels we expect, the provisioning files that go with it. Then every query of
//! it, expanded the way Grafana (template variables) and the plugin (macros) expand them, run
//! on rows this test inserts for an instrument of its own: each panel must show those rows,
//! and only those the panel's filters let through.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_testkit::{repo_root, stack, unique};

mod expand;
mod queries;
mod rows;
mod shape;

const PLUGIN: &str = "grafana-clickhouse-datasource";
const DS_UID: &str = "tickwatch-clickhouse";
/// The database the dashboard's SQL names (the local stack's; `clickhouse.database`).
const DASHBOARD_DB: &str = "tickwatch";

/// (title prefix, panel type, the plugin's target format: 0 time series, 1 table).
const PANELS: [(&str, &str, u64); 6] = [
    ("K-lines", "candlestick", 1),
    ("Spread", "timeseries", 0),
    ("Index/mark divergence", "timeseries", 0),
    ("PriceSmooth", "timeseries", 0),
    ("Live alerts", "table", 1),
    ("Data quality", "table", 1),
];

fn grafana_dir() -> PathBuf {
    repo_root().join("grafana")
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_yaml(path: PathBuf) -> serde_yaml::Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dashboard() -> Value {
    read_json(grafana_dir().join("dashboards/tickwatch.json"))
}

fn panels(d: &Value) -> &Vec<Value> {
    d["panels"].as_array().expect("the dashboard has panels")
}

fn title(p: &Value) -> &str {
    p["title"].as_str().unwrap_or_default()
}

/// The one panel whose title starts with `prefix`.
fn panel<'a>(d: &'a Value, prefix: &str) -> &'a Value {
    let found: Vec<&Value> = panels(d).iter().filter(|p| title(p).starts_with(prefix)).collect();
    assert_eq!(found.len(), 1, "panels titled {prefix:?}...: {}", found.len());
    found[0]
}

fn panel_sql<'a>(d: &'a Value, prefix: &str) -> &'a str {
    panel(d, prefix)["targets"][0]["rawSql"].as_str().expect("rawSql")
}

fn variable<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no variable {name}"))
}

fn variable_sql<'a>(d: &'a Value, name: &str) -> &'a str {
    variable(d, name)["query"]["rawSql"].as_str().expect("the variable's rawSql")
}
