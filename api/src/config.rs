//! What the user writes for the query API (`config/api.yaml`, every field documented there).

use serde::Deserialize;
use std::path::{Path, PathBuf};
use tickwatch_alerts::notify::Secret;
use tickwatch_runtime::config_error::{load_yaml, parse_duration_ms};
use tickwatch_runtime::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// host:port the HTTP server binds.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Folder with the dashboard's index.html, app.js, app.css and node_modules.
    #[serde(default = "default_dashboard_dir")]
    pub dashboard_dir: PathBuf,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub rate_limit: Rate,
    #[serde(default)]
    pub api_keys: ApiKeys,
    #[serde(default)]
    pub hot: HotConfig,
    /// Prefix of the alert engine's Redis keys (silences live under it).
    #[serde(default = "default_alerts_prefix")]
    pub alerts_state_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Items per page when `limit` is not given.
    #[serde(default = "default_limit")]
    pub default_limit: u32,
    /// The largest `limit` accepted (a larger one is a 400).
    #[serde(default = "max_limit")]
    pub max_limit: u32,
    /// The longest `to − from` of a history query.
    #[serde(default = "max_range")]
    pub max_range: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// How long an order book read from Redis is served again without asking.
    #[serde(default = "one_second")]
    pub hot_ttl: String,
    /// How long a ClickHouse answer is served again for the same query.
    #[serde(default = "five_seconds")]
    pub history_ttl: String,
    /// At most this many cached answers (the oldest go first).
    #[serde(default = "max_entries")]
    pub max_entries: usize,
}

/// A token bucket: `per_second` refill, at most `burst` tokens.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeys {
    /// Refuse requests without a known key (401). Off: keys only select their own bucket.
    #[serde(default)]
    pub require: bool,
    #[serde(default)]
    pub keys: Vec<ApiKey>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The tenant's name (logs, buckets).
    pub name: String,
    /// {env: VAR} | {file: path} | {value: "..."}.
    pub key: Secret,
    /// Its own rate (default: rate_limit).
    #[serde(default)]
    pub rate: Option<Rate>,
    /// Venues this key may read (empty: all).
    #[serde(default)]
    pub venues: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotConfig {
    /// Follow the clean topics for the latest values (off: ClickHouse only).
    #[serde(default = "yes")]
    pub follow: bool,
    /// At start, the latest values are read from ClickHouse over this much history.
    #[serde(default = "seed_window")]
    pub seed_window: String,
    /// Prefix of the Redis keys the book worker writes its top levels to.
    #[serde(default = "default_hot_prefix")]
    pub redis_prefix: String,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { default_limit: default_limit(), max_limit: max_limit(), max_range: max_range() }
    }
}
impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { hot_ttl: one_second(), history_ttl: five_seconds(), max_entries: max_entries() }
    }
}
impl Default for Rate {
    fn default() -> Self {
        Rate { per_second: 50.0, burst: 100.0 }
    }
}
impl Default for HotConfig {
    fn default() -> Self {
        HotConfig { follow: true, seed_window: seed_window(), redis_prefix: default_hot_prefix() }
    }
}
impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: default_listen(),
            dashboard_dir: default_dashboard_dir(),
            limits: Limits::default(),
            cache: CacheConfig::default(),
            rate_limit: Rate::default(),
            api_keys: ApiKeys::default(),
            hot: HotConfig::default(),
            alerts_state_prefix: default_alerts_prefix(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_dashboard_dir() -> PathBuf {
    "api/dashboard".into()
}
fn default_limit() -> u32 {
    500
}
fn max_limit() -> u32 {
    5000
}
fn max_range() -> String {
    "31d".into()
}
fn one_second() -> String {
    "1s".into()
}
fn five_seconds() -> String {
    "5s".into()
}
fn max_entries() -> usize {
    10_000
}
fn yes() -> bool {
    true
}
fn seed_window() -> String {
    "1d".into()
}
fn default_hot_prefix() -> String {
    "tickwatch:hot:".into()
}
fn default_alerts_prefix() -> String {
    "tickwatch:alerts:".into()
}

/// The durations of the file, checked once.
#[derive(Debug, Clone, Copy)]
pub struct Durations {
    pub hot_ttl_ms: i64,
    pub history_ttl_ms: i64,
    pub max_range_ms: i64,
    pub seed_window_ms: i64,
}

impl ApiConfig {
    pub fn load(path: &Path) -> Result<ApiConfig, ConfigError> {
        let cfg: ApiConfig = load_yaml(path)?;
        cfg.durations(path)?;
        cfg.check(path)?;
        Ok(cfg)
    }

    pub fn durations(&self, path: &Path) -> Result<Durations, ConfigError> {
        let d = |field: &str, text: &str| {
            parse_duration_ms(text).filter(|ms| *ms > 0).ok_or_else(|| {
                ConfigError::field(path, field, format!("`{text}`: write a duration such as 1s, 5m, 1d"))
            })
        };
        Ok(Durations {
            hot_ttl_ms: d("cache.hot_ttl", &self.cache.hot_ttl)?,
            history_ttl_ms: d("cache.history_ttl", &self.cache.history_ttl)?,
            max_range_ms: d("limits.max_range", &self.limits.max_range)?,
            seed_window_ms: d("hot.seed_window", &self.hot.seed_window)?,
        })
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let err = |field: &str, msg: &str| Err(ConfigError::field(path, field, msg));
        if self.limits.default_limit == 0 || self.limits.default_limit > self.limits.max_limit {
            return err("limits.default_limit", "must be between 1 and limits.max_limit");
        }
        let rate_ok = |r: &Rate| r.per_second > 0.0 && r.burst >= 1.0;
        if !rate_ok(&self.rate_limit) {
            return err("rate_limit", "per_second must be above 0 and burst at least 1");
        }
        for (i, k) in self.api_keys.keys.iter().enumerate() {
            if k.name.trim().is_empty() {
                return err(&format!("api_keys.keys[{i}].name"), "give each key a name");
            }
            if k.rate.as_ref().is_some_and(|r| !rate_ok(r)) {
                return err(&format!("api_keys.keys[{i}].rate"), "per_second must be above 0 and burst at least 1");
            }
        }
        if self.api_keys.require && self.api_keys.keys.is_empty() {
            return err(
                "api_keys.require",
                "no keys are listed under api_keys.keys, so every request would be refused",
            );
        }
        Ok(())
    }
}
