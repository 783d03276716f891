//! The dashboard's shape: datasource, panels, variables, provisioning.

use super::expand::Grafana;
use super::*;

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
