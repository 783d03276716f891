//! ClickHouse over its HTTP interface: statements, small JSON queries, and the migrations in
//! `schemas/clickhouse/` (plain SQL files users can also run by hand).

use crate::settings::ClickHouseSettings;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("ClickHouse at {url} is unreachable: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("ClickHouse refused the statement (HTTP {status}): {message}\n  statement: {statement}")]
    Refused { status: u16, message: String, statement: String },
    #[error("cannot read migrations from {path}: {source}")]
    ReadMigrations { path: PathBuf, source: std::io::Error },
    #[error("clickhouse.hot_ttl_days must be at least 1 (it was 0)")]
    ZeroTtl,
    #[error("migration {name} changed after it was applied (checksum {applied} then, {now} now); add a new migration file instead of editing an applied one")]
    Changed { name: String, applied: String, now: String },
}

#[derive(Clone)]
pub struct ClickHouse {
    settings: ClickHouseSettings,
    http: reqwest::Client,
}

impl ClickHouse {
    pub fn new(settings: &ClickHouseSettings) -> ClickHouse {
        ClickHouse { settings: settings.clone(), http: reqwest::Client::new() }
    }

    pub fn database(&self) -> &str {
        &self.settings.database
    }

    /// Run one statement; `in_database` selects the configured database for it.
    async fn post(&self, sql: &str, in_database: bool) -> Result<String, ClickHouseError> {
        let query: Vec<(String, &str)> =
            if in_database { vec![("database".into(), &self.settings.database)] } else { Vec::new() };
        self.send(sql, sql.to_string(), &query).await
    }

    /// POST `body` with the URL parameters `query`; a refusal quotes `sql`.
    async fn send(&self, sql: &str, body: String, query: &[(String, &str)]) -> Result<String, ClickHouseError> {
        let url = |source| ClickHouseError::Unreachable { url: self.settings.url.clone(), source };
        let resp = self
            .http
            .post(&self.settings.url)
            .header("X-ClickHouse-User", &self.settings.user)
            .header("X-ClickHouse-Key", &self.settings.password)
            .query(query)
            .body(body)
            .send()
            .await
            .map_err(url)?;
        let status = resp.status();
        let text = resp.text().await.map_err(url)?;
        if !status.is_success() {
            return Err(ClickHouseError::Refused {
                status: status.as_u16(),
                message: text.trim().to_string(),
                statement: sql.trim().to_string(),
            });
        }
        Ok(text)
    }

    /// Run a statement in the configured database and return the raw answer.
    pub async fn execute(&self, sql: &str) -> Result<String, ClickHouseError> {
        self.post(sql, true).await
    }

    /// Run a query with `FORMAT JSONEachRow` appended and parse each row.
    pub async fn query_rows(&self, sql: &str) -> Result<Vec<serde_json::Value>, ClickHouseError> {
        let text = self.execute(&format!("{sql} FORMAT JSONEachRow")).await?;
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or(serde_json::Value::Null))
            .collect())
    }

    /// Run a parameterized query (`{name:Type}` placeholders, values bound by the server,
    /// never spliced into the text) with `FORMAT JSONEachRow` appended; the answer's text,
    /// one JSON object a line. 64-bit integers come back as JSON numbers; decimals should be
    /// selected with `toString` to stay exact.
    pub async fn query_params_text(&self, sql: &str, params: &[(String, String)]) -> Result<String, ClickHouseError> {
        let mut query: Vec<(String, &str)> =
            vec![("database".into(), &self.settings.database), ("output_format_json_quote_64bit_integers".into(), "0")];
        query.extend(params.iter().map(|(k, v)| (format!("param_{k}"), v.as_str())));
        self.send(sql, format!("{sql} FORMAT JSONEachRow"), &query).await
    }

    /// [`query_params_text`](Self::query_params_text), each row parsed.
    pub async fn query_params(
        &self,
        sql: &str,
        params: &[(String, String)],
    ) -> Result<Vec<serde_json::Value>, ClickHouseError> {
        let text = self.query_params_text(sql, params).await?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| ClickHouseError::Refused {
                    status: 200,
                    message: format!("unreadable row ({e}): {l}"),
                    statement: sql.trim().to_string(),
                })
            })
            .collect()
    }

    pub async fn ping(&self) -> Result<(), ClickHouseError> {
        self.post("SELECT 1", false).await.map(|_| ())
    }

    /// Apply every `NNN_name.sql` in `dir` that has not been applied yet, in name order.
    /// Returns the names applied now. Safe to run any number of times.
    pub async fn migrate(&self, dir: &Path) -> Result<Vec<String>, ClickHouseError> {
        let migrations = read_migrations(dir)?;
        self.post(&format!("CREATE DATABASE IF NOT EXISTS `{}`", self.settings.database), false).await?;
        self.execute(
            "CREATE TABLE IF NOT EXISTS tickwatch_migrations (name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) \
             ENGINE = ReplacingMergeTree ORDER BY name",
        )
        .await?;
        let applied = self.query_rows("SELECT name, checksum FROM tickwatch_migrations FINAL").await?;
        let mut done = Vec::new();
        for m in migrations {
            let before = applied.iter().find(|r| r["name"] == m.name.as_str());
            if let Some(row) = before {
                let was = row["checksum"].as_str().unwrap_or_default().to_string();
                if was != m.checksum {
                    return Err(ClickHouseError::Changed { name: m.name, applied: was, now: m.checksum });
                }
                continue;
            }
            for statement in split_statements(&m.sql) {
                self.execute(&statement).await?;
            }
            self.execute(&format!(
                "INSERT INTO tickwatch_migrations (name, checksum) VALUES ('{}', '{}')",
                m.name, m.checksum
            ))
            .await?;
            done.push(m.name);
        }
        Ok(done)
    }
}

/// The raw tables and the time column their TTL counts from.
pub const HOT_TABLES: [(&str, &str); 4] = [
    ("trades", "event_time"),
    ("reference_prices", "event_time"),
    ("book_tops", "window_start"),
    ("dex_swaps", "block_time"),
];

impl ClickHouse {
    /// Set the raw tables' TTL to `days` (`clickhouse.hot_ttl_days`) where it differs.
    /// Returns the tables changed. The DDL files say 7 days; this is how a deployment keeps
    /// more or less without editing them.
    pub async fn apply_hot_ttl(&self, days: u32) -> Result<Vec<String>, ClickHouseError> {
        if days == 0 {
            return Err(ClickHouseError::ZeroTtl);
        }
        let mut changed = Vec::new();
        for (table, column) in HOT_TABLES {
            let rows = self
                .query_rows(&format!(
                    "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = '{table}'"
                ))
                .await?;
            let Some(engine) = rows.first().and_then(|r| r["engine_full"].as_str()) else { continue };
            if engine.contains(&format!("toIntervalDay({days})")) {
                continue;
            }
            self.execute(&format!("ALTER TABLE {table} MODIFY TTL toDateTime({column}) + INTERVAL {days} DAY")).await?;
            changed.push(table.to_string());
        }
        Ok(changed)
    }
}

struct Migration {
    name: String,
    sql: String,
    checksum: String,
}

fn read_migrations(dir: &Path) -> Result<Vec<Migration>, ClickHouseError> {
    let err = |source| ClickHouseError::ReadMigrations { path: dir.to_path_buf(), source };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let sql = std::fs::read_to_string(&path).map_err(err)?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        out.push(Migration { checksum: format!("{:016x}", fnv1a(sql.as_bytes())), name, sql });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Split a SQL file into statements at `;` that end a line, dropping `--` comment lines.
/// (The shipped DDL keeps semicolons out of strings, so this is enough.)
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let stmt = current.trim().trim_end_matches(';').trim().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// A stable checksum of a migration's text (FNV-1a, 64 bit).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_line_end_semicolons() {
        let sql = "-- a comment; not a statement\nCREATE TABLE a (x Int8)\nENGINE = Memory;\n\nCREATE TABLE b (s String DEFAULT 'x') ENGINE = Memory;\n";
        let s = split_statements(sql);
        assert_eq!(s.len(), 2);
        assert!(s[0].starts_with("CREATE TABLE a") && s[0].ends_with("Memory"));
    }

    #[test]
    fn shipped_migrations_read_in_order() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/clickhouse"));
        let m = read_migrations(dir).unwrap();
        assert!(!m.is_empty());
        assert!(m.windows(2).all(|w| w[0].name < w[1].name));
    }
}
