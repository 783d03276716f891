//! The binary's edges: subcommands listed, configuration errors as one line naming the field
//! with exit code 2, and the rpk scripts in the repository equal to what the topic
//! declaration renders.

use std::process::Command;
use tickwatch_testkit::{repo_root, unique};

fn tickwatch(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickwatch")).current_dir(repo_root()).args(args).output().unwrap()
}

#[test]
fn help_lists_the_subcommands() {
    let out = tickwatch(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["registry", "migrate", "topics", "schemas", "check", "slo", "chdb-serve"] {
        assert!(text.contains(cmd), "{cmd} missing from --help:\n{text}");
    }
}

#[test]
fn the_shipped_configuration_checks_out() {
    let out = tickwatch(&["check"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (24 topics, 4 venues"));
}

fn broken(replace: &str, with: &str) -> (Option<i32>, String) {
    let text = std::fs::read_to_string(repo_root().join("config/tickwatch.yaml")).unwrap();
    assert!(text.contains(replace), "sample no longer contains {replace}");
    let path = std::env::temp_dir().join(format!("{}.yaml", unique("tw-bad")));
    std::fs::write(&path, text.replacen(replace, with, 1)).unwrap();
    let out = tickwatch(&["--config", path.to_str().unwrap(), "check"]);
    std::fs::remove_file(path).ok();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_wrong_field_is_named_and_exits_2() {
    let (code, err) = broken("url: http://127.0.0.1:18123", "url: 127.0.0.1:18123");
    assert_eq!(code, Some(2));
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("error: ") && err.contains("field `clickhouse.url`") && err.contains("e.g. http://"),
        "{err}"
    );

    let (code, err) = broken("bootstrap: 127.0.0.1:19092", "bootstrap: nowhere");
    assert_eq!(code, Some(2));
    assert!(err.contains("field `broker.bootstrap`"), "{err}");

    let (code, err) = broken("  bucket: tickwatch", "  bucket: tickwatch\n  buckit: typo");
    assert_eq!(code, Some(2));
    assert!(err.contains("s3.buckit") && err.contains("unknown field"), "{err}");

    let (code, err) = broken("redis:\n", "rediz:\n");
    assert_eq!(code, Some(2));
    assert!(err.contains("rediz") || err.contains("missing field `redis`"), "{err}");

    let (code, err) = broken("topics: config/topics.yaml", "topics: config/nope.yaml");
    assert_eq!(code, Some(2));
    assert!(err.contains("config/nope.yaml"), "{err}");
}

#[test]
fn a_missing_settings_file_says_how_to_fix_it() {
    let out = tickwatch(&["--config", "/nonexistent/tickwatch.yaml", "migrate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/tickwatch.yaml") && err.contains("--config"), "{err}");
}

#[test]
fn rpk_scripts_match_the_topic_declaration() {
    for (args, file) in [(["topics", "rpk"], "rpk/topics.sh"), (["topics", "rpk-registry"], "rpk/registry.sh")] {
        let out = tickwatch(&args);
        assert!(out.status.success());
        let committed = std::fs::read_to_string(repo_root().join(file)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            committed,
            "{file} is stale: regenerate with `tickwatch {}` > {file}",
            args.join(" ")
        );
    }
    let topics = String::from_utf8_lossy(&tickwatch(&["topics", "rpk"]).stdout).into_owned();
    assert!(topics.contains("create _schemas -p 1 -r 1 -c cleanup.policy=compact -c retention.ms=-1"));
    assert!(topics.contains(
        "create raw.trades -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd"
    ));
}

#[test]
fn a_broken_window_file_is_named_and_exits_2() {
    let windows = std::env::temp_dir().join(format!("{}-windows.yaml", unique("tw-bad")));
    std::fs::write(&windows, "intervals: [1s, 5x]\n").unwrap();
    let (code, err) = broken("windows: config/windows.yaml", &format!("windows: {}", windows.display()));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("intervals") && err.contains("`5x`") && err.contains("1s, 5s, 1m"), "{err}");
    std::fs::write(&windows, "intervals: [1s]\nallowed_lateness_ms: 5000\ncorrection_horizon_ms: 1000\n").unwrap();
    let (code, err) = broken("windows: config/windows.yaml", &format!("windows: {}", windows.display()));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("correction_horizon_ms"), "{err}");
    std::fs::remove_file(windows).ok();
}

#[test]
fn a_broken_sinks_file_is_named_and_exits_2() {
    let sinks = std::env::temp_dir().join(format!("{}-sinks.yaml", unique("tw-bad")));
    std::fs::write(&sinks, "clickhouse:\n  topics: [trades, depth]\n").unwrap();
    let (code, err) = broken("sinks: config/sinks.yaml", &format!("sinks: {}", sinks.display()));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("clickhouse.topics") && err.contains("`depth`") && err.contains("kline.<interval>"), "{err}");
    std::fs::write(&sinks, "clickhouse:\n  batch_rowz: 10\n").unwrap();
    let (code, err) = broken("sinks: config/sinks.yaml", &format!("sinks: {}", sinks.display()));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("batch_rowz") && err.contains(&sinks.display().to_string()), "{err}");
    std::fs::remove_file(sinks).ok();
}

#[test]
fn a_bad_silence_factor_is_named_and_exits_2() {
    let text = std::fs::read_to_string(repo_root().join("config/exchanges.yaml")).unwrap();
    let exchanges = std::env::temp_dir().join(format!("{}-exchanges.yaml", unique("tw-bad")));
    for factor in ["0", "-2"] {
        let bad = text.replacen(
            "    rotate_after: 23h\n",
            &format!("    rotate_after: 23h\n    silence: {{factor: {factor}}}\n"),
            1,
        );
        std::fs::write(&exchanges, bad).unwrap();
        let (code, err) = broken("exchanges: config/exchanges.yaml", &format!("exchanges: {}", exchanges.display()));
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("field `venues.binance.silence.factor`") && err.contains("at least 1"), "{err}");
    }
    std::fs::remove_file(exchanges).ok();
}

#[test]
fn a_broken_api_file_is_named_and_exits_2() {
    let api = std::env::temp_dir().join(format!("{}-api.yaml", unique("tw-bad")));
    for (text, field, hint) in [
        ("rate_limit: {per_second: 0, burst: 10}\n", "rate_limit", "above 0"),
        ("cache: {history_ttl: soon}\n", "cache.history_ttl", "1s, 5m, 1d"),
        ("limits: {default_limit: 9000}\n", "limits.default_limit", "max_limit"),
        ("api_keys: {require: true}\n", "api_keys.require", "every request would be refused"),
        ("listn: 127.0.0.1:1\n", "listn", "unknown field"),
    ] {
        std::fs::write(&api, text).unwrap();
        let (code, err) = broken("api: config/api.yaml", &format!("api: {}", api.display()));
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(field) && err.contains(hint) && err.contains(&api.display().to_string()), "{err}");
    }
    std::fs::remove_file(api).ok();
}

#[test]
fn an_ingest_shard_with_an_instrument_its_venues_lack_is_named_and_exits_2() {
    // Refused before any connection: no broker or venue is needed.
    let out = tickwatch(&["ingest", "--venue", "okx", "--instrument", "BTC-USDT", "--instrument", "NOPE-USDT"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--instrument NOPE-USDT is not an instrument of the selected venues"), "{err}");
    assert!(!err.contains("BTC-USDT is not"), "{err}");
}
