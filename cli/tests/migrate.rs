//! `tickwatch migrate` against the real ClickHouse HTTP interface: creates every table,
//! is idempotent, refuses an edited migration, and the columns keep venue decimals exact.

use std::path::Path;
use std::process::Command;
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::settings::ClickHouseSettings;
use tickwatch_testkit::{repo_root, stack, unique};

/// The stack's settings with another database (and optionally another DDL folder).
fn settings_file(database: &str, ddl: Option<&Path>) -> std::path::PathBuf {
    let text = std::fs::read_to_string(&stack().settings_path)
        .unwrap()
        .replace("database: tickwatch", &format!("database: {database}"));
    let text = match ddl {
        Some(dir) => text
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("clickhouse_ddl:") {
                    format!("  clickhouse_ddl: {}", dir.display())
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None => text,
    };
    let path = std::env::temp_dir().join(format!("{}.yaml", unique("tw-migrate")));
    std::fs::write(&path, text).unwrap();
    path
}

fn migrate(settings: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickwatch")).arg("--config").arg(settings).arg("migrate").output().unwrap()
}

fn clickhouse(database: &str) -> ClickHouse {
    ClickHouse::new(&ClickHouseSettings { database: database.into(), ..stack().settings.clickhouse.clone() })
}

#[tokio::test]
async fn migrate_creates_every_table_once() {
    let db = unique("twm").replace('-', "_");
    let settings = settings_file(&db, None);
    let out = migrate(&settings);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("applied 001_market_data") && stdout.contains("applied 002_operations"), "{stdout}");
    let again = migrate(&settings);
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));

    let ch = clickhouse(&db);
    let tables: Vec<String> = ch
        .query_rows("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    for t in [
        "alerts",
        "book_tops",
        "data_quality_minute",
        "dex_swaps",
        "dex_swaps_final",
        "dex_swaps_mixed",
        "klines",
        "quarantine",
        "reference_prices",
        "trades",
        "tickwatch_migrations",
    ] {
        assert!(tables.contains(&t.to_string()), "{t} missing from {tables:?}");
    }
    let engine = ch
        .query_rows("SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'klines'")
        .await
        .unwrap();
    assert_eq!(engine[0]["engine"], "ReplacingMergeTree");

    // Exact decimals and microseconds, and duplicates of a natural key collapse under FINAL.
    // A recent time: the raw tables' TTL (7 days) would delete an old row.
    let event_us =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64 - 3_600_000_123;
    for _ in 0..2 {
        ch.execute(&format!(
            "INSERT INTO trades (venue, instrument, base, quote, kind, venue_symbol, trade_id, price, size, taker_side, event_time, receive_time, source_lag_ms) \
             VALUES ('binance', 'NKN-USDT', 'NKN', 'USDT', 'SPOT', 'NKNUSDT', '42', '0.000000000000000001', '99999999999999999999.999999999999999999', 'BUY', \
             fromUnixTimestamp64Micro({event_us}), fromUnixTimestamp64Micro({}), 1)",
            event_us + 2_000
        ))
        .await
        .unwrap();
    }
    let rows = ch
        .query_rows(
            "SELECT toString(price) AS p, toString(size) AS s, toUnixTimestamp64Micro(event_time) AS t FROM trades FINAL",
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["p"], "0.000000000000000001");
    assert_eq!(rows[0]["s"], "99999999999999999999.999999999999999999");
    assert_eq!(rows[0]["t"].as_str().and_then(|t| t.parse::<i64>().ok()).or(rows[0]["t"].as_i64()), Some(event_us));
    ch.execute(&format!("DROP DATABASE `{db}`")).await.ok();
    std::fs::remove_file(settings).ok();
}

#[tokio::test]
async fn the_hot_tables_keep_the_configured_days() {
    let db = unique("twttl").replace('-', "_");
    let settings = settings_file(&db, None);
    let text = std::fs::read_to_string(&settings).unwrap().replace("hot_ttl_days: 7", "hot_ttl_days: 3");
    std::fs::write(&settings, text).unwrap();
    let out = migrate(&settings);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("trades keeps 3 days") && stdout.contains("book_tops keeps 3 days"), "{stdout}");
    let ch = clickhouse(&db);
    for table in ["trades", "reference_prices", "book_tops", "dex_swaps"] {
        let rows = ch.query_rows(&format!("SHOW CREATE TABLE {table}")).await.unwrap();
        let ddl = rows[0]["statement"].as_str().unwrap();
        assert!(ddl.contains("toIntervalDay(3)"), "{table}: {ddl}");
    }
    // Unchanged on the next run.
    let again = migrate(&settings);
    assert!(!String::from_utf8_lossy(&again.stdout).contains("keeps"), "{}", String::from_utf8_lossy(&again.stdout));
    let _ = ch.execute(&format!("DROP DATABASE IF EXISTS `{db}`")).await;
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    let db = unique("twe").replace('-', "_");
    let ddl = std::env::temp_dir().join(unique("tw-ddl"));
    std::fs::create_dir_all(&ddl).unwrap();
    std::fs::copy(repo_root().join("schemas/clickhouse/001_market_data.sql"), ddl.join("001_market_data.sql")).unwrap();
    let settings = settings_file(&db, Some(&ddl));
    assert!(migrate(&settings).status.success());
    std::fs::write(ddl.join("001_market_data.sql"), "CREATE TABLE IF NOT EXISTS sneaky (x Int8) ENGINE = Memory;\n")
        .unwrap();
    let out = migrate(&settings);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("001_market_data changed after it was applied") && err.contains("add a new migration file"),
        "{err}"
    );
    clickhouse(&db).execute(&format!("DROP DATABASE `{db}`")).await.ok();
    std::fs::remove_dir_all(ddl).ok();
    std::fs::remove_file(settings).ok();
}
