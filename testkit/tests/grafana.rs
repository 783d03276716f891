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

/// What Grafana sends for a panel: the time range (epoch ms) and the variables' values. The
/// database is the one the queries run in (the dashboard names `tickwatch`).
struct Grafana<'a> {
    from_ms: i64,
    to_ms: i64,
    vars: BTreeMap<&'a str, String>,
    database: &'a str,
}

impl Grafana<'_> {
    /// The SQL ClickHouse receives: template variables replaced by the frontend
    /// (`templateSrv.replace`, single values as they are), then the plugin's macros by its
    /// backend (pkg/macros: `$__timeFilter(c)` is `c >= toDateTime(from_s) AND c <=
    /// toDateTime(to_s)`, `$__fromTime`/`$__toTime` are `toDateTime(s)`, seconds truncated).
    fn expand(&self, sql: &str) -> String {
        let sql = self.macros(&self.variables(sql));
        assert!(!sql.contains('$'), "something was left unexpanded:\n{sql}");
        if self.database == DASHBOARD_DB {
            sql
        } else {
            sql.replace(&format!("{DASHBOARD_DB}."), &format!("{}.", self.database))
        }
    }

    /// `$name` and `${name}`; `$__...` are Grafana's or the plugin's and stay for `macros`.
    fn variables(&self, sql: &str) -> String {
        let mut out = String::new();
        let mut rest = sql;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, len) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').expect("unclosed ${");
                (&braced[..end], end + 2)
            } else {
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                (&after[..end], end)
            };
            if name.starts_with("__") {
                out.push('$');
                rest = after;
                continue;
            }
            let value = self.vars.get(name).unwrap_or_else(|| panic!("unknown variable ${name} in\n{sql}"));
            out.push_str(value);
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }

    fn macros(&self, sql: &str) -> String {
        let (from_s, to_s) = (self.from_ms.div_euclid(1000), self.to_ms.div_euclid(1000));
        let mut out = String::new();
        let mut rest = sql;
        while let Some(i) = rest.find("$__") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 3..];
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let name = &after[..end];
            let mut tail = &after[end..];
            let args: Vec<&str> = match tail.strip_prefix('(') {
                Some(inner) => {
                    let close = inner.find(')').expect("unclosed macro");
                    tail = &inner[close + 1..];
                    inner[..close].split(',').map(str::trim).collect()
                }
                None => Vec::new(),
            };
            let expansion = match (name, args.as_slice()) {
                ("timeFilter", [col]) => {
                    format!("{col} >= toDateTime({from_s}) AND {col} <= toDateTime({to_s})")
                }
                ("fromTime", []) => format!("toDateTime({from_s})"),
                ("toTime", []) => format!("toDateTime({to_s})"),
                _ => panic!("macro $__{name}({}) is not one this test knows", args.join(", ")),
            };
            out.push_str(&expansion);
            rest = tail;
        }
        out.push_str(rest);
        out
    }
}

#[test]
fn the_dashboard_is_on_the_clickhouse_plugin_with_the_expected_panels_and_variables() {
    let d = dashboard();
    assert!(d["schemaVersion"].as_u64().expect("schemaVersion") >= 38, "schemaVersion {}", d["schemaVersion"]);
    let ds = json!({"type": PLUGIN, "uid": DS_UID});

    assert_eq!(panels(&d).len(), PANELS.len(), "{:?}", panels(&d).iter().map(title).collect::<Vec<_>>());
    for p in panels(&d) {
        assert_eq!(p["datasource"], ds, "panel {}", title(p));
        let targets = p["targets"].as_array().unwrap_or_else(|| panic!("panel {} has no targets", title(p)));
        assert!(!targets.is_empty(), "panel {} has no targets", title(p));
        for t in targets {
            assert_eq!(t["datasource"], ds, "panel {}", title(p));
            assert_eq!(t["editorType"], "sql", "panel {}", title(p));
            let sql = t["rawSql"].as_str().unwrap_or_default();
            assert!(sql.contains("FROM tickwatch."), "panel {}: {sql}", title(p));
        }
    }
    for (prefix, kind, format) in PANELS {
        let p = panel(&d, prefix);
        assert_eq!(p["type"], kind, "panel {}", title(p));
        assert_eq!(p["targets"][0]["format"], format, "panel {}", title(p));
    }
    assert_eq!(panels(&d).iter().filter(|p| p["type"] == "candlestick").count(), 1);
    for (prefix, column) in [("K-lines", "open_time"), ("Spread", "at"), ("Index/mark", "at"), ("PriceSmooth", "tick")]
    {
        assert!(panel_sql(&d, prefix).contains(&format!("$__timeFilter({column})")), "{prefix} ignores the range");
    }
    assert!(panel_sql(&d, "K-lines").contains("interval = '${interval}'"));

    for name in ["venue", "instrument"] {
        let v = variable(&d, name);
        assert_eq!(v["type"], "query", "${name}");
        assert_eq!(v["datasource"], ds, "${name}");
        assert!(variable_sql(&d, name).contains("FROM tickwatch.klines"), "${name}");
    }
    assert!(variable_sql(&d, "instrument").contains("venue = '${venue}'"), "instruments are not filtered by venue");
    let interval = variable(&d, "interval");
    assert_eq!(interval["type"], "custom");
    let options: Vec<&str> =
        interval["options"].as_array().expect("options").iter().map(|o| o["value"].as_str().expect("value")).collect();
    assert_eq!(interval["query"].as_str().expect("query").split(',').collect::<Vec<_>>(), options);
    // The intervals the window worker makes, no more, no less.
    let windows = read_yaml(repo_root().join("config/windows.yaml"));
    let made: Vec<&str> =
        windows["intervals"].as_sequence().expect("intervals").iter().map(|v| v.as_str().expect("interval")).collect();
    assert_eq!(options, made);

    // Every query expands: no variable or macro this dashboard does not define.
    let grafana = Grafana {
        from_ms: 0,
        to_ms: 60_000,
        vars: [("venue", "v"), ("instrument", "i"), ("interval", "1m")].map(|(k, v)| (k, v.to_string())).into(),
        database: DASHBOARD_DB,
    };
    for p in panels(&d) {
        grafana.expand(p["targets"][0]["rawSql"].as_str().expect("rawSql"));
    }
    for name in ["venue", "instrument"] {
        grafana.expand(variable_sql(&d, name));
    }

    let provisioned = read_yaml(grafana_dir().join("provisioning/datasources/clickhouse.yaml"));
    let source = &provisioned["datasources"][0];
    assert_eq!(source["type"].as_str(), Some(PLUGIN));
    assert_eq!(source["uid"].as_str(), Some(DS_UID));
    let j = &source["jsonData"];
    assert_eq!(
        (j["host"].as_str(), j["port"].as_u64(), j["protocol"].as_str()),
        (Some("127.0.0.1"), Some(18123), Some("http"))
    );
    assert_eq!((j["defaultDatabase"].as_str(), j["username"].as_str()), (Some(DASHBOARD_DB), Some("default")));
    let providers = read_yaml(grafana_dir().join("provisioning/dashboards/tickwatch.yaml"));
    let provider = &providers["providers"][0];
    assert_eq!(provider["type"].as_str(), Some("file"));
    assert!(provider["options"]["path"].as_str().expect("path").ends_with("/dashboards"));
}

// ---- rows of our own, and what each panel must show of them ----

/// `us` µs since the epoch as ClickHouse writes a DateTime64(6, 'UTC') in JSON.
fn ch_time(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let (y, m, d) = tickwatch_model::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}", s / 3600, s % 3600 / 60, s % 60, us.rem_euclid(1_000_000))
}

fn f64_of(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("f64"),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {v}")),
        _ => panic!("not a number: {v}"),
    }
}

fn i64_of(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().expect("i64"),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not an integer: {v}")),
        _ => panic!("not an integer: {v}"),
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

async fn insert(ch: &ClickHouse, table: &str, rows: &[Value]) {
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
    ch.execute(&format!("INSERT INTO {table} FORMAT JSONEachRow\n{body}"))
        .await
        .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
}

async fn query(ch: &ClickHouse, what: &str, sql: &str) -> Vec<Value> {
    ch.query_rows(sql).await.unwrap_or_else(|e| panic!("{what}: {e}"))
}

struct Bar {
    venue: &'static str,
    interval: &'static str,
    /// Open time, seconds after the range's start.
    at: i64,
    ohlcv: [&'static str; 5],
    version: i64,
}

struct Signal {
    kind: &'static str,
    venue: &'static str,
    venue_b: &'static str,
    decoy: bool,
    /// ms after the range's start.
    at: i64,
    value: f64,
    emitted: i64,
}

struct Smooth {
    at: i64,
    price: &'static str,
    target: &'static str,
    version: i64,
}

#[derive(Clone)]
struct Alert {
    fingerprint: String,
    state: &'static str,
    severity: &'static str,
    started: i64,
    emitted: i64,
}

struct Quality {
    channel: &'static str,
    minute: i64,
    messages: i64,
    gaps: i64,
    reconnects: i64,
    lag_p95: Option<f64>,
    inserted: i64,
}

/// Of `rows`, per key the one with the highest version: what FINAL shows of a
/// ReplacingMergeTree.
fn latest<T, K: Ord, V: Ord>(rows: &[T], key: impl Fn(&T) -> K, version: impl Fn(&T) -> V) -> Vec<&T> {
    let mut by_key: BTreeMap<K, &T> = BTreeMap::new();
    for r in rows {
        let k = key(r);
        if by_key.get(&k).is_none_or(|had| version(had) < version(r)) {
            by_key.insert(k, r);
        }
    }
    by_key.into_values().collect()
}

#[tokio::test]
async fn every_panel_query_runs_on_clickhouse_and_shows_the_inserted_rows() {
    let stack = stack();
    let ch = ClickHouse::new(&stack.settings.clickhouse);
    let d = dashboard();
    let name = unique("GRAF");
    let instrument = format!("{name}-USDT");
    let decoy = format!("{name}-DECOY-USDT");
    // Ten whole minutes an hour ago (the tables' TTLs are days).
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let from_ms = (now_ms / 60_000 - 60) * 60_000;
    let to_ms = from_ms + 10 * 60_000;
    let range_minutes = (to_ms - from_ms) as f64 / 60_000.0;
    let us = |ms_after_from: i64| (from_ms + ms_after_from) * 1000;
    let in_range = |ms_after_from: i64| (0..=to_ms - from_ms).contains(&ms_after_from);
    let grafana = |venue: &str, interval: &str| Grafana {
        from_ms,
        to_ms,
        vars: [("venue", venue), ("instrument", instrument.as_str()), ("interval", interval)]
            .map(|(k, v)| (k, v.to_string()))
            .into(),
        database: ch.database(),
    };

    // K-lines: three binance 1m bars in the range (the second corrected by a later version),
    // one before and one after it, a 1s bar, and an okx bar.
    let bar = |venue, interval, at, ohlcv, version| Bar { venue, interval, at, ohlcv, version };
    let bars = [
        bar("binance", "1m", 60, ["64000.1", "64100.25", "63950.37", "64050.75", "12.5"], 1),
        bar("binance", "1m", 120, ["64050.75", "64070", "64010.5", "64020", "3.25"], 1),
        bar("binance", "1m", 300, ["64020", "64200.5", "64000", "64190.125", "7.75"], 1),
        bar("binance", "1m", -180, ["63000", "63100", "62900", "63050", "1"], 1),
        bar("binance", "1m", 720, ["65000", "65100", "64900", "65050", "1"], 1),
        bar("binance", "1s", 61, ["64001", "64002", "64000.5", "64001.5", "0.5"], 1),
        bar("okx", "1m", 180, ["64010", "64020", "64000", "64015", "2"], 1),
        bar("binance", "1m", 120, ["64050.75", "64080", "64005.5", "64030.25", "4.5"], 2),
    ];
    let bar_row = |b: &Bar| {
        let len_s = if b.interval == "1s" { 1 } else { 60 };
        let [open, high, low, close, volume] = b.ohlcv;
        json!({
            "venue": b.venue, "instrument": instrument, "interval": b.interval,
            "open_time": ch_time(us(b.at * 1000)), "close_time": ch_time(us((b.at + len_s) * 1000) - 1),
            "open": open, "high": high, "low": low, "close": close, "volume": volume,
            "quote_volume": "0", "vwap": close, "trade_count": 1, "taker_buy_volume": "0",
            "taker_buy_quote_volume": "0", "first_trade_id": "1", "last_trade_id": "2",
            "version": b.version, "verification": "VERIFIED", "emitted_at": ch_time(us(b.at * 1000) + b.version),
        })
    };
    // The correction goes in a later insert (another part), as the sink would write it.
    let (first, correction) = bars.split_at(bars.len() - 1);
    insert(&ch, "klines", &first.iter().map(bar_row).collect::<Vec<_>>()).await;
    insert(&ch, "klines", &correction.iter().map(bar_row).collect::<Vec<_>>()).await;

    // Signals: spreads of two pairs (one value corrected), one outside the range, one of
    // another instrument, and divergences of two venues.
    let sig =
        |kind, venue, venue_b, decoy, at, value, emitted| Signal { kind, venue, venue_b, decoy, at, value, emitted };
    let signals = [
        sig("spread", "binance", "okx", false, 60_250, 1.5, 1),
        sig("spread", "binance", "bybit", false, 60_250, 3.0, 1),
        sig("spread", "binance", "okx", false, 240_000, -2.0, 1),
        sig("spread", "binance", "okx", false, -120_000, 9.0, 1),
        sig("spread", "binance", "okx", true, 60_250, 7.0, 1),
        sig("divergence", "binance", "", false, 120_000, 0.8, 1),
        sig("divergence", "okx", "", false, 120_000, 1.1, 1),
        sig("divergence", "okx", "", false, 900_000, 4.4, 1),
        sig("spread", "binance", "okx", false, 240_000, -2.25, 2),
    ];
    let signal_row = |s: &Signal| {
        json!({
            "kind": s.kind, "venue": s.venue, "venue_b": s.venue_b,
            "instrument": if s.decoy { decoy.as_str() } else { instrument.as_str() },
            "channel": "", "interval": "", "value": s.value, "unit": "bps",
            "at": ch_time(us(s.at)), "emitted_at": ch_time(us(s.at) + s.emitted),
        })
    };
    let (first, correction) = signals.split_at(signals.len() - 1);
    insert(&ch, "signals", &first.iter().map(signal_row).collect::<Vec<_>>()).await;
    insert(&ch, "signals", &correction.iter().map(signal_row).collect::<Vec<_>>()).await;

    // PriceSmooth: a ramp and a steady tick in the range, one tick before it.
    let smooth = [
        Smooth { at: 60_000, price: "64000.5", target: "64010", version: 1 },
        Smooth { at: 61_000, price: "64002.5", target: "64010", version: 1 },
        Smooth { at: 180_000, price: "64010", target: "64010", version: 1 },
        Smooth { at: -60_000, price: "63000", target: "63000", version: 1 },
    ];
    let smooth_rows: Vec<Value> = smooth
        .iter()
        .map(|s| {
            json!({
                "instrument": instrument, "tick": ch_time(us(s.at)), "price": s.price, "target": s.target,
                "state": if s.price == s.target { "STEADY" } else { "RAMPING" }, "ramp_end": null,
                "sources": 2, "version": s.version, "emitted_at": ch_time(us(s.at)),
            })
        })
        .collect();
    insert(&ch, "price_smooth", &smooth_rows).await;

    // Data quality: two channels over two minutes (one row restated later), one minute
    // before the range.
    let q = |channel, minute, messages, gaps, reconnects, lag_p95, inserted| Quality {
        channel,
        minute,
        messages,
        gaps,
        reconnects,
        lag_p95,
        inserted,
    };
    let quality = [
        q("trades", 60, 100, 1, 0, Some(12.5), 1),
        q("depth", 60, 300, 0, 1, Some(40.0), 1),
        q("trades", 120, 90, 0, 0, None, 1),
        q("trades", -300, 1000, 9, 9, Some(999.0), 1),
        q("trades", 60, 120, 2, 1, Some(15.0), 2),
    ];
    let quality_row = |r: &Quality| {
        json!({
            "venue": "binance", "instrument": instrument, "channel": r.channel, "minute": ch_time(us(r.minute * 1000)),
            "messages": r.messages, "gaps": r.gaps, "lost_messages": null, "out_of_order": 0, "duplicates": 0,
            "reconnects": r.reconnects, "resyncs": 0, "quarantined": 0, "max_silence_ms": 0,
            "source_lag_p95_ms": r.lag_p95, "inserted_at": ch_time(us(r.minute * 1000) + r.inserted),
        })
    };
    let (first, restated) = quality.split_at(quality.len() - 1);
    insert(&ch, "data_quality_minute", &first.iter().map(quality_row).collect::<Vec<_>>()).await;
    insert(&ch, "data_quality_minute", &restated.iter().map(quality_row).collect::<Vec<_>>()).await;

    // ---- variables ----
    let g = grafana("binance", "1m");
    let venues: BTreeSet<String> = query(&ch, "$venue", &g.expand(variable_sql(&d, "venue")))
        .await
        .iter()
        .map(|r| str_of(&r["venue"]).to_string())
        .collect();
    assert!(venues.contains("binance") && venues.contains("okx"), "{venues:?}");
    for (venue, listed) in [("binance", true), ("okx", true), ("bybit", false)] {
        let rows = query(&ch, "$instrument", &grafana(venue, "1m").expand(variable_sql(&d, "instrument"))).await;
        let found = rows.iter().any(|r| r["instrument"] == instrument.as_str());
        assert_eq!(found, listed, "$instrument for venue {venue}: {} rows", rows.len());
    }

    // ---- candlestick: the latest version of each bar of the venue, interval and range ----
    for interval in ["1m", "1s"] {
        let rows = query(&ch, "k-lines", &grafana("binance", interval).expand(panel_sql(&d, "K-lines"))).await;
        let in_bars: Vec<&Bar> = latest(&bars, |b| (b.venue, b.interval, b.at), |b| b.version)
            .into_iter()
            .filter(|b| b.venue == "binance" && b.interval == interval && in_range(b.at * 1000))
            .collect();
        assert!(!in_bars.is_empty());
        let got: Vec<(String, [f64; 5])> = rows
            .iter()
            .map(|r| {
                (str_of(&r["time"]).to_string(), ["open", "high", "low", "close", "volume"].map(|c| f64_of(&r[c])))
            })
            .collect();
        let want: Vec<(String, [f64; 5])> = in_bars
            .iter()
            .map(|b| (ch_time(us(b.at * 1000)), b.ohlcv.map(|v| v.parse::<f64>().expect("decimal"))))
            .collect();
        assert_eq!(got, want, "k-lines of binance {interval}");
    }

    // ---- spread: one series per pair of our instrument, the latest value of each point ----
    let rows = query(&ch, "spread", &g.expand(panel_sql(&d, "Spread"))).await;
    let got: Vec<(String, String, f64)> = rows
        .iter()
        .map(|r| (str_of(&r["time"]).to_string(), str_of(&r["pair"]).to_string(), f64_of(&r["spread_bps"])))
        .collect();
    let mut want: Vec<(String, String, f64)> =
        latest(&signals, |s| (s.kind, s.venue, s.venue_b, s.decoy, s.at), |s| s.emitted)
            .into_iter()
            .filter(|s| s.kind == "spread" && !s.decoy && in_range(s.at))
            .map(|s| (ch_time(us(s.at)), format!("{}/{}", s.venue, s.venue_b), s.value))
            .collect();
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(want.len(), 3);
    assert_eq!(got, want, "spread");

    // ---- divergence: one series per venue ----
    let rows = query(&ch, "divergence", &g.expand(panel_sql(&d, "Index/mark"))).await;
    let got: Vec<(String, String, f64)> = rows
        .iter()
        .map(|r| (str_of(&r["time"]).to_string(), str_of(&r["venue"]).to_string(), f64_of(&r["divergence_bps"])))
        .collect();
    let want: Vec<(String, String, f64)> = signals
        .iter()
        .filter(|s| s.kind == "divergence" && !s.decoy && in_range(s.at))
        .map(|s| (ch_time(us(s.at)), s.venue.to_string(), s.value))
        .collect();
    assert_eq!(want.len(), 2);
    assert_eq!(got, want, "divergence");

    // ---- PriceSmooth ----
    let rows = query(&ch, "PriceSmooth", &g.expand(panel_sql(&d, "PriceSmooth"))).await;
    let got: Vec<(String, f64, f64)> =
        rows.iter().map(|r| (str_of(&r["time"]).to_string(), f64_of(&r["price"]), f64_of(&r["target"]))).collect();
    let want: Vec<(String, f64, f64)> = smooth
        .iter()
        .filter(|s| in_range(s.at))
        .map(|s| (ch_time(us(s.at)), s.price.parse().expect("price"), s.target.parse().expect("target")))
        .collect();
    assert_eq!(want.len(), 3);
    assert_eq!(got, want, "PriceSmooth");

    // Alerts, inserted only now so that a failure above leaves none firing on the stack: one
    // firing, one fired then resolved, one resolved then firing again.
    let fp = |what: &str| format!("{name}-{what}");
    let alert = |what: &str, state, severity, started, emitted| Alert {
        fingerprint: fp(what),
        state,
        severity,
        started,
        emitted,
    };
    let alerts = [
        alert("firing", "FIRING", "P2", 60_000, 60_000),
        alert("resolved", "FIRING", "P1", 60_000, 60_000),
        alert("resolved", "RESOLVED", "P1", 60_000, 180_000),
        alert("refired", "FIRING", "P3", 0, 0),
        alert("refired", "RESOLVED", "P3", 0, 120_000),
        alert("refired", "FIRING", "P3", 240_000, 240_000),
    ];
    let alert_row = |a: &Alert| {
        json!({
            "fingerprint": a.fingerprint, "rule": "spread_wide", "severity": a.severity, "state": a.state,
            "venue": "binance", "instrument": instrument, "value": 12.5, "threshold": 10.0,
            "summary": format!("{} {}", a.fingerprint, a.state), "labels": {"pair": "binance/okx"},
            "started_at": ch_time(us(a.started)), "emitted_at": ch_time(us(a.emitted)),
        })
    };
    insert(&ch, "alerts", &alerts.iter().map(alert_row).collect::<Vec<_>>()).await;

    // ---- live alerts: the fingerprints whose latest state is FIRING, with their latest row ----
    let ours = |rows: &[Value]| -> BTreeMap<String, Value> {
        rows.iter()
            .filter(|r| str_of(&r["fingerprint"]).starts_with(&name))
            .map(|r| (str_of(&r["fingerprint"]).to_string(), r.clone()))
            .collect()
    };
    let rows = query(&ch, "live alerts", &g.expand(panel_sql(&d, "Live alerts"))).await;
    let got = ours(&rows);
    // Leave no test alert firing on the stack (before any assertion can fail): resolve every
    // fingerprint of ours, after which the panel must let all of them go.
    let resolutions: Vec<Value> = latest(&alerts, |a| a.fingerprint.clone(), |a| a.emitted)
        .into_iter()
        .filter(|a| a.state == "FIRING")
        .map(|a| alert_row(&Alert { state: "RESOLVED", emitted: a.emitted + 60_000, ..a.clone() }))
        .collect();
    insert(&ch, "alerts", &resolutions).await;
    let after = ours(&query(&ch, "live alerts", &g.expand(panel_sql(&d, "Live alerts"))).await);
    let firing: Vec<&Alert> =
        latest(&alerts, |a| a.fingerprint.clone(), |a| a.emitted).into_iter().filter(|a| a.state == "FIRING").collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), firing.iter().map(|a| &a.fingerprint).collect::<Vec<_>>());
    assert!(got.contains_key(&fp("firing")) && got.contains_key(&fp("refired")));
    assert!(!got.contains_key(&fp("resolved")), "a resolved alert is shown as live");
    for a in firing {
        let r = &got[&a.fingerprint];
        assert_eq!(r["severity"], a.severity, "{}", a.fingerprint);
        assert_eq!(r["summary"], format!("{} FIRING", a.fingerprint));
        assert_eq!((r["rule"].as_str(), r["instrument"].as_str()), (Some("spread_wide"), Some(instrument.as_str())));
        assert_eq!(str_of(&r["started_at"]), ch_time(us(a.started)), "{}", a.fingerprint);
    }
    assert!(after.is_empty(), "resolved alerts still live: {:?}", after.keys());

    // ---- data quality: sums over the range's rows (restated ones as restated), completeness
    // from the 1m k-lines ----
    let rows = query(&ch, "data quality", &g.expand(panel_sql(&d, "Data quality"))).await;
    let mine: Vec<&Value> = rows.iter().filter(|r| r["instrument"] == instrument.as_str()).collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    let row = mine[0];
    assert_eq!(row["venue"], "binance");
    let counted: Vec<&Quality> = latest(&quality, |r| (r.channel, r.minute), |r| r.inserted)
        .into_iter()
        .filter(|r| in_range(r.minute * 1000))
        .collect();
    assert_eq!(counted.len(), 3);
    assert_eq!(i64_of(&row["messages"]), counted.iter().map(|r| r.messages).sum::<i64>());
    assert_eq!(i64_of(&row["gaps"]), counted.iter().map(|r| r.gaps).sum::<i64>());
    assert_eq!(i64_of(&row["reconnects"]), counted.iter().map(|r| r.reconnects).sum::<i64>());
    let lag = counted.iter().filter_map(|r| r.lag_p95).fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(f64_of(&row["lag_p95_ms"]), lag);
    let minutes: BTreeSet<i64> = bars
        .iter()
        .filter(|b| b.venue == "binance" && b.interval == "1m" && b.at >= 0 && b.at * 1000 < to_ms - from_ms)
        .map(|b| b.at)
        .collect();
    assert_eq!(minutes.len(), 3);
    let completeness = f64_of(&row["completeness"]);
    assert!(
        (completeness - minutes.len() as f64 / range_minutes).abs() < 1e-12,
        "completeness {completeness}, want {} / {range_minutes}",
        minutes.len()
    );
}
