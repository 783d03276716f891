//! `config/exchanges.yaml` (what to connect to and how) and `config/symbols.yaml` (venue
//! symbols ↔ canonical instrument ids). Both are documented field by field in the sample files.

use crate::config_error::{load_yaml, parse_duration_ms, ConfigError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use tickwatch_model::InstrumentId;

pub use tickwatch_model::symbols::KNOWN_VENUES;
/// Channels a venue can be subscribed to.
pub const KNOWN_CHANNELS: &[&str] = &["trades", "depth", "mark_price", "index_price", "funding"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchanges {
    pub venues: BTreeMap<String, VenueConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub ws_url: String,
    pub rest_url: String,
    pub channels: Vec<String>,
    /// Canonical instrument ids.
    pub instruments: Vec<String>,
    /// Levels requested in REST snapshots.
    pub snapshot_depth: u32,
    /// How often a REST snapshot is compared with the local book.
    pub snapshot_check_period: String,
    pub max_streams_per_connection: u32,
    pub subscribe_per_second: u32,
    pub reconnect: ReconnectConfig,
    /// Reconnect before the venue's connection lifetime ends.
    pub rotate_after: String,
    /// Reconnect when the socket stays open but no data frame arrives for this long.
    #[serde(default = "stall_default")]
    pub stall_after: String,
    /// Per-stream silence detection (signals on the `signals` topic).
    #[serde(default)]
    pub silence: SilenceConfig,
}

fn stall_default() -> String {
    "60s".into()
}

/// When one stream (instrument and channel) counts as silent while its socket stays open:
/// quiet longer than `max(factor × its usual interval, min)`. Every field is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SilenceConfig {
    pub enabled: bool,
    /// Multiple of the stream's usual interval between messages.
    pub factor: f64,
    /// The shortest silence reported, whatever the usual interval.
    pub min: String,
    /// Gaps a stream must show before its usual interval is trusted.
    pub min_samples: u32,
    /// How often a lasting silence is reported again, with its grown length.
    pub repeat: String,
}

impl Default for SilenceConfig {
    fn default() -> Self {
        SilenceConfig { enabled: true, factor: 10.0, min: "5s".into(), min_samples: 20, repeat: "10s".into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectConfig {
    pub initial_backoff: String,
    pub max_backoff: String,
    /// Fraction of the backoff added or removed at random (0..1).
    pub jitter: f64,
}

fn yes() -> bool {
    true
}

impl Exchanges {
    pub fn load(path: &Path) -> Result<Exchanges, ConfigError> {
        let e: Exchanges = load_yaml(path)?;
        e.validate(path)?;
        Ok(e)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        for (name, v) in &self.venues {
            let at = |f: &str| format!("venues.{name}.{f}");
            if !KNOWN_VENUES.contains(&name.as_str()) {
                return Err(ConfigError::field(
                    path,
                    format!("venues.{name}"),
                    format!("unknown venue; known: {}", KNOWN_VENUES.join(", ")),
                ));
            }
            if !(v.ws_url.starts_with("ws://") || v.ws_url.starts_with("wss://")) {
                return Err(ConfigError::field(
                    path,
                    at("ws_url"),
                    format!("`{}` is not a ws:// or wss:// URL", v.ws_url),
                ));
            }
            crate::config_error::check_http_url(path, &at("rest_url"), &v.rest_url)?;
            for (i, c) in v.channels.iter().enumerate() {
                if !KNOWN_CHANNELS.contains(&c.as_str()) {
                    return Err(ConfigError::field(
                        path,
                        at(&format!("channels[{i}]")),
                        format!("unknown channel `{c}`; known: {}", KNOWN_CHANNELS.join(", ")),
                    ));
                }
            }
            for (i, inst) in v.instruments.iter().enumerate() {
                inst.parse::<InstrumentId>()
                    .map_err(|e| ConfigError::field(path, at(&format!("instruments[{i}]")), e.to_string()))?;
            }
            for (field, text) in [
                ("snapshot_check_period", &v.snapshot_check_period),
                ("rotate_after", &v.rotate_after),
                ("stall_after", &v.stall_after),
                ("silence.min", &v.silence.min),
                ("silence.repeat", &v.silence.repeat),
                ("reconnect.initial_backoff", &v.reconnect.initial_backoff),
                ("reconnect.max_backoff", &v.reconnect.max_backoff),
            ] {
                if parse_duration_ms(text).is_none() {
                    return Err(ConfigError::field(
                        path,
                        at(field),
                        format!("`{text}` is not a duration like 500ms, 5s, 5m or 23h"),
                    ));
                }
            }
            if !(0.0..1.0).contains(&v.reconnect.jitter) {
                return Err(ConfigError::field(path, at("reconnect.jitter"), "must be at least 0 and below 1"));
            }
            // Below 1 a stream's usual gap would itself count as a silence.
            if !(v.silence.factor.is_finite() && v.silence.factor >= 1.0) {
                return Err(ConfigError::field(
                    path,
                    at("silence.factor"),
                    format!("`{}` must be a number of at least 1 (times the usual interval)", v.silence.factor),
                ));
            }
            if v.silence.min_samples == 0 {
                return Err(ConfigError::field(path, at("silence.min_samples"), "must be at least 1"));
            }
            if v.max_streams_per_connection == 0 || v.subscribe_per_second == 0 || v.snapshot_depth == 0 {
                return Err(ConfigError::field(
                    path,
                    format!("venues.{name}"),
                    "snapshot_depth, max_streams_per_connection and subscribe_per_second must be positive",
                ));
            }
        }
        Ok(())
    }
}

/// `config/symbols.yaml`; the types live in the model so the transforms can bake the file in.
pub use tickwatch_model::symbols::{SymbolAlias, Symbols};

/// Read and check `config/symbols.yaml`.
pub fn load_symbols(path: &Path) -> Result<Symbols, ConfigError> {
    let s: Symbols = load_yaml(path)?;
    s.validate().map_err(|e| ConfigError::field(path, e.field, e.message))?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_files_are_valid() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"));
        let e = Exchanges::load(&dir.join("exchanges.yaml")).unwrap();
        assert_eq!(e.venues.len(), 4);
        let s = load_symbols(&dir.join("symbols.yaml")).unwrap();
        assert!(s.aliases.iter().any(|a| a.venue == "okx" && a.instrument == "BTC-USDT-PERP"));
    }

    #[test]
    fn bad_values_name_the_field() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"));
        let text = std::fs::read_to_string(dir.join("exchanges.yaml")).unwrap();
        let tmp = std::env::temp_dir().join(format!("tw-exchanges-{}.yaml", std::process::id()));
        std::fs::write(&tmp, text.replacen("instruments: [BTC-USDT,", "instruments: [BTCUSDT,", 1)).unwrap();
        let err = Exchanges::load(&tmp).unwrap_err().to_string();
        assert!(
            err.contains("venues.binance.instruments[0]") && err.contains("not a canonical instrument id"),
            "{err}"
        );
        std::fs::remove_file(tmp).ok();
    }

    #[test]
    fn silence_settings_default_and_are_checked() {
        let venue = "venues:\n  okx:\n    ws_url: ws://127.0.0.1/ws\n    rest_url: http://127.0.0.1\n    \
                     channels: [trades]\n    instruments: [BTC-USDT]\n    snapshot_depth: 400\n    \
                     snapshot_check_period: 5m\n    max_streams_per_connection: 100\n    subscribe_per_second: 3\n    \
                     reconnect: {initial_backoff: 500ms, max_backoff: 30s, jitter: 0.2}\n    rotate_after: 23h\n";
        let load = |extra: &str| {
            let tmp = std::env::temp_dir().join(format!("tw-silence-{}-{}.yaml", std::process::id(), extra.len()));
            std::fs::write(&tmp, format!("{venue}{extra}")).unwrap();
            let got = Exchanges::load(&tmp);
            std::fs::remove_file(tmp).ok();
            got
        };
        let s = load("").unwrap().venues["okx"].silence.clone();
        assert_eq!(
            (s.enabled, s.factor, s.min.as_str(), s.min_samples, s.repeat.as_str()),
            (true, 10.0, "5s", 20, "10s")
        );
        let s = load("    silence: {factor: 5, min: 500ms}\n").unwrap().venues["okx"].silence.clone();
        assert_eq!((s.factor, s.min.as_str(), s.min_samples), (5.0, "500ms", 20));
        for (extra, field) in [
            ("    silence: {factor: 0}\n", "venues.okx.silence.factor"),
            ("    silence: {factor: -3}\n", "venues.okx.silence.factor"),
            ("    silence: {min: 5}\n", "venues.okx.silence.min"),
            ("    silence: {repeat: soon}\n", "venues.okx.silence.repeat"),
            ("    silence: {min_samples: 0}\n", "venues.okx.silence.min_samples"),
        ] {
            let err = load(extra).unwrap_err().to_string();
            assert!(err.contains(&format!("field `{field}`")), "{extra}: {err}");
        }
    }
}
