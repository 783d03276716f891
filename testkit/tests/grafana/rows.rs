//! Rows of our own, and what each panel must show of them.

use super::*;

/// `us` µs since the epoch as ClickHouse writes a DateTime64(6, 'UTC') in JSON.
pub fn ch_time(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let (y, m, d) = tickwatch_model::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}", s / 3600, s % 3600 / 60, s % 60, us.rem_euclid(1_000_000))
}

pub fn f64_of(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("f64"),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {v}")),
        _ => panic!("not a number: {v}"),
    }
}

pub fn i64_of(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().expect("i64"),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not an integer: {v}")),
        _ => panic!("not an integer: {v}"),
    }
}

pub fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

pub async fn insert(ch: &ClickHouse, table: &str, rows: &[Value]) {
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
    ch.execute(&format!("INSERT INTO {table} FORMAT JSONEachRow\n{body}"))
        .await
        .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
}

pub async fn query(ch: &ClickHouse, what: &str, sql: &str) -> Vec<Value> {
    ch.query_rows(sql).await.unwrap_or_else(|e| panic!("{what}: {e}"))
}

pub struct Bar {
    pub venue: &'static str,
    pub interval: &'static str,
    /// Open time, seconds after the range's start.
    pub at: i64,
    pub ohlcv: [&'static str; 5],
    pub version: i64,
}

pub struct Signal {
    pub kind: &'static str,
    pub venue: &'static str,
    pub venue_b: &'static str,
    pub decoy: bool,
    /// ms after the range's start.
    pub at: i64,
    pub value: f64,
    pub emitted: i64,
}

pub struct Smooth {
    pub at: i64,
    pub price: &'static str,
    pub target: &'static str,
    pub version: i64,
}

#[derive(Clone)]
pub struct Alert {
    pub fingerprint: String,
    pub state: &'static str,
    pub severity: &'static str,
    pub started: i64,
    pub emitted: i64,
}

pub struct Quality {
    pub channel: &'static str,
    pub minute: i64,
    pub messages: i64,
    pub gaps: i64,
    pub reconnects: i64,
    pub lag_p95: Option<f64>,
    pub inserted: i64,
}

/// Of `rows`, per key the one with the highest version: what FINAL shows of a
/// ReplacingMergeTree.
pub fn latest<T, K: Ord, V: Ord>(rows: &[T], key: impl Fn(&T) -> K, version: impl Fn(&T) -> V) -> Vec<&T> {
    let mut by_key: BTreeMap<K, &T> = BTreeMap::new();
    for r in rows {
        let k = key(r);
        if by_key.get(&k).is_none_or(|had| version(had) < version(r)) {
            by_key.insert(k, r);
        }
    }
    by_key.into_values().collect()
}
