//! What the user writes for the analytics worker (`config/analytics.yaml`, documented there).

use serde::Deserialize;
use std::path::Path;
use tickwatch_runtime::config_error::{load_yaml, parse_duration_ms, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    #[serde(default)]
    pub spread: SpreadConfig,
    #[serde(default)]
    pub divergence: DivergenceConfig,
    #[serde(default)]
    pub smooth: SmoothConfig,
    #[serde(default)]
    pub ema: EmaConfig,
    #[serde(default)]
    pub quality: QualityConfig,
    /// Prefix of the worker's keys in Redis.
    #[serde(default = "default_prefix")]
    pub state_prefix: String,
}

fn default_prefix() -> String {
    "tickwatch:analytics:".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PriceSource {
    #[default]
    Trade,
    Mid,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpreadConfig {
    pub source: PriceSource,
    pub every: String,
    pub max_age: String,
    pub instruments: Vec<String>,
}

impl Default for SpreadConfig {
    fn default() -> Self {
        SpreadConfig { source: PriceSource::Trade, every: "1s".into(), max_age: "10s".into(), instruments: vec![] }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DivergenceConfig {
    pub every: String,
    pub max_age: String,
}

impl Default for DivergenceConfig {
    fn default() -> Self {
        DivergenceConfig { every: "1s".into(), max_age: "10s".into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmoothConfig {
    pub instruments: Vec<String>,
    pub tick: String,
    pub ramp: String,
    pub jump_bps: i64,
    pub max_age: String,
}

impl Default for SmoothConfig {
    fn default() -> Self {
        SmoothConfig { instruments: vec![], tick: "1s".into(), ramp: "60s".into(), jump_bps: 10, max_age: "30s".into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmaConfig {
    pub intervals: Vec<String>,
    pub fast: u32,
    pub slow: u32,
}

impl Default for EmaConfig {
    fn default() -> Self {
        EmaConfig { intervals: vec!["1m".into()], fast: 20, slow: 200 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    pub activity_window: String,
    pub activity_min_minutes: u32,
    pub quarantine_grace: String,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig { activity_window: "7d".into(), activity_min_minutes: 60, quarantine_grace: "5s".into() }
    }
}

/// The durations, checked, in µs.
#[derive(Debug, Clone, Copy)]
pub struct Durations {
    pub spread_every: i64,
    pub spread_max_age: i64,
    pub divergence_every: i64,
    pub divergence_max_age: i64,
    pub smooth_tick: i64,
    pub smooth_ramp: i64,
    pub smooth_max_age: i64,
    pub activity_window: i64,
    pub quarantine_grace: i64,
}

impl AnalyticsConfig {
    pub fn load(path: &Path) -> Result<AnalyticsConfig, ConfigError> {
        let cfg: AnalyticsConfig = load_yaml(path)?;
        cfg.durations(path)?;
        Ok(cfg)
    }

    /// Every duration in µs; a bad one names its field.
    pub fn durations(&self, path: &Path) -> Result<Durations, ConfigError> {
        let us = |field: &str, text: &str| {
            parse_duration_ms(text).map(|ms| ms * 1000).ok_or_else(|| {
                ConfigError::field(
                    path,
                    field,
                    format!("`{text}` is not a positive duration such as 500ms, 1s, 2m, 7d"),
                )
            })
        };
        let d = Durations {
            spread_every: us("spread.every", &self.spread.every)?,
            spread_max_age: us("spread.max_age", &self.spread.max_age)?,
            divergence_every: us("divergence.every", &self.divergence.every)?,
            divergence_max_age: us("divergence.max_age", &self.divergence.max_age)?,
            smooth_tick: us("smooth.tick", &self.smooth.tick)?,
            smooth_ramp: us("smooth.ramp", &self.smooth.ramp)?,
            smooth_max_age: us("smooth.max_age", &self.smooth.max_age)?,
            activity_window: us("quality.activity_window", &self.quality.activity_window)?,
            quarantine_grace: us("quality.quarantine_grace", &self.quality.quarantine_grace)?,
        };
        if d.smooth_ramp < d.smooth_tick {
            return Err(ConfigError::field(path, "smooth.ramp", "must be at least one smooth.tick"));
        }
        if self.smooth.jump_bps < 0 {
            return Err(ConfigError::field(path, "smooth.jump_bps", "must be 0 or more (bps)"));
        }
        if self.ema.fast == 0 || self.ema.fast >= self.ema.slow {
            return Err(ConfigError::field(
                path,
                "ema.fast",
                "must be at least 1 and below ema.slow, e.g. fast: 20, slow: 200",
            ));
        }
        Ok(d)
    }
}
