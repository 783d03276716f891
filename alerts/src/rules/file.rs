//! `config/alerts.yaml`: the rules, their defaults and the notifiers. Loading checks every
//! rule; a bad one is refused with its line and the reason, and the process does not start.

use super::expr::{Condition, Threshold};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use tickwatch_model::AlertSeverity;
use tickwatch_runtime::config_error::{parse_duration_ms, parse_yaml, ConfigError};

/// Channels a rule can notify.
pub const CHANNELS: &[&str] = &["slack", "lark", "email"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    #[serde(default)]
    pub defaults: Defaults,
    pub rules: Vec<Rule>,
    /// Where notifications go; none configured means alerts only reach the topic and tables.
    #[serde(default)]
    pub notifiers: Option<crate::notify::NotifiersConfig>,
}

/// Notification timing shared by every rule that does not say otherwise.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    pub severity: AlertSeverity,
    /// Wait this long after a group's first change, so a storm goes out as one message.
    pub group_wait: String,
    /// At least this long between two messages of the same group.
    pub group_interval: String,
    /// Remind of a still-firing alert after this long.
    pub repeat_interval: String,
    /// Channels used by rules without `notify` (default: every configured channel).
    pub notify: Option<Vec<String>>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            severity: AlertSeverity::P2,
            group_wait: "2s".into(),
            group_interval: "1m".into(),
            repeat_interval: "4h".into(),
            notify: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub when: Condition,
    pub severity: Option<AlertSeverity>,
    /// Replaces the generated one-line summary; `{value}` and `{threshold}` are filled in.
    pub summary: Option<String>,
    /// Extra labels on every alert of the rule (team, runbook...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Labels whose values split notifications into groups (always within the rule).
    #[serde(default)]
    pub group_by: Vec<String>,
    pub notify: Option<Vec<String>>,
    /// divergence(...) > band: each feed's normal deviation plus a buffer, in bps.
    pub bands: Option<Bands>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    pub default: Band,
    /// Per feed, keyed `venue/instrument`.
    #[serde(default)]
    pub feeds: BTreeMap<String, Band>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub normal_bps: f64,
    pub buffer_bps: f64,
}

impl Bands {
    /// The band of a feed, in bps.
    pub fn limit(&self, venue: &str, instrument: &str) -> f64 {
        let b = self.feeds.get(&format!("{venue}/{instrument}")).unwrap_or(&self.default);
        b.normal_bps + b.buffer_bps
    }
}

/// Labels a series can have (besides a rule's own `labels`).
pub const SERIES_LABELS: &[&str] = &["rule", "venue", "venue_b", "instrument", "channel", "interval"];

/// Timings in µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub group_wait_us: i64,
    pub group_interval_us: i64,
    pub repeat_interval_us: i64,
}

impl AlertsFile {
    pub fn load(path: &Path) -> Result<AlertsFile, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        AlertsFile::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<AlertsFile, ConfigError> {
        let file: AlertsFile = parse_yaml(path, text).map_err(|e| point_at_when(e, text))?;
        file.check(path, text)?;
        Ok(file)
    }

    pub fn timing(&self) -> Timing {
        let us = |t: &str| parse_duration_ms(t).unwrap_or(1) * 1000;
        Timing {
            group_wait_us: us(&self.defaults.group_wait),
            group_interval_us: us(&self.defaults.group_interval),
            repeat_interval_us: us(&self.defaults.repeat_interval),
        }
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// Channels a rule's notifications go to.
    pub fn channels_of(&self, rule: &Rule) -> Vec<String> {
        rule.notify
            .clone()
            .or_else(|| self.defaults.notify.clone())
            .unwrap_or_else(|| CHANNELS.iter().map(|c| c.to_string()).collect())
    }

    fn check(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        for (field, d) in [
            ("defaults.group_wait", &self.defaults.group_wait),
            ("defaults.group_interval", &self.defaults.group_interval),
            ("defaults.repeat_interval", &self.defaults.repeat_interval),
        ] {
            if parse_duration_ms(d).is_none() {
                return Err(ConfigError::field(path, field, format!("`{d}` is not a duration such as 500ms, 5s, 2m")));
            }
        }
        check_channels(path, "defaults.notify", self.defaults.notify.as_deref())?;
        if let Some(n) = &self.notifiers {
            n.validate(path)?;
        }
        let mut names = HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |field: &str, message: String| {
                let nth = self.rules[..i].iter().filter(|r| r.name == rule.name).count();
                let line = line_of(text, &rule.name, nth).map(|l| format!(" (rule at line {l})")).unwrap_or_default();
                ConfigError::field(path, format!("rules[{i}].{field}"), format!("{message}{line}"))
            };
            if rule.name.is_empty() || !rule.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return Err(at("name", format!("`{}` must be letters, digits, - _ . only", rule.name)));
            }
            if !names.insert(rule.name.as_str()) {
                return Err(at("name", format!("`{}` is used by an earlier rule; names must be unique", rule.name)));
            }
            if rule.when.threshold == Threshold::Band && rule.bands.is_none() {
                return Err(at("bands", "`> band` needs `bands: {default: {normal_bps, buffer_bps}}`".into()));
            }
            let known: Vec<&str> =
                SERIES_LABELS.iter().copied().chain(rule.labels.keys().map(String::as_str)).collect();
            if let Some(g) = rule.group_by.iter().find(|g| !known.contains(&g.as_str())) {
                return Err(at("group_by", format!("`{g}` is not a label of this rule; known: {}", known.join(", "))));
            }
            check_channels(path, &format!("rules[{i}].notify"), rule.notify.as_deref())?;
        }
        Ok(())
    }
}

fn check_channels(path: &Path, field: &str, list: Option<&[String]>) -> Result<(), ConfigError> {
    match list.unwrap_or_default().iter().find(|c| !CHANNELS.contains(&c.as_str())) {
        Some(c) => {
            Err(ConfigError::field(path, field, format!("unknown channel `{c}`; known: {}", CHANNELS.join(", "))))
        }
        None => Ok(()),
    }
}

/// serde_yaml places an error of a `when:` value at the start of its rule; point at the
/// `when:` line itself.
fn point_at_when(e: ConfigError, text: &str) -> ConfigError {
    let ConfigError::Field { path, field, message } = e else { return e };
    let at = message.rfind(" at line ").filter(|_| field.ends_with(".when"));
    let Some(at) = at else { return ConfigError::Field { path, field, message } };
    let line: usize = message[at + 9..].split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let when = text.lines().enumerate().skip(line.saturating_sub(1)).find(|(_, l)| {
        let l = l.trim_start().trim_start_matches("- ");
        l.starts_with("when:")
    });
    let message = match when {
        Some((i, _)) => format!("{} at line {}", &message[..at], i + 1),
        None => message,
    };
    ConfigError::Field { path, field, message }
}

/// The line (1-based) of the `nth` rule declared with `name`.
fn line_of(text: &str, name: &str, nth: usize) -> Option<usize> {
    let declares = |l: &str| {
        let l = l.trim_start().trim_start_matches("- ").trim();
        l.strip_prefix("name:").is_some_and(|v| v.trim().trim_matches(['"', '\'']) == name)
    };
    text.lines().enumerate().filter(|(_, l)| declares(l)).nth(nth).map(|(i, _)| i + 1)
}
