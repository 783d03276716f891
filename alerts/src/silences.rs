//! Silences: "do not notify about alerts whose labels match these, until then". Kept in Redis
//! (one key per silence, expiring with it), so the CLI, the API and the notifier share them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tickwatch_model::Alert;
use tickwatch_runtime::state::{StateError, StateStore};

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    /// Label → value (`*` matches any value, and a missing label never matches).
    pub matchers: BTreeMap<String, String>,
    pub starts_at_us: i64,
    pub ends_at_us: i64,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    pub fn active(&self, now_us: i64) -> bool {
        self.starts_at_us <= now_us && now_us < self.ends_at_us
    }

    /// Every matcher holds for the alert's labels (`rule` and `fingerprint` included).
    pub fn matches(&self, alert: &Alert) -> bool {
        self.matchers.iter().all(|(k, want)| {
            let have = match k.as_str() {
                "fingerprint" => Some(alert.fingerprint.as_str()),
                "rule" => Some(alert.rule.as_str()),
                _ => alert.labels.get(k).map(String::as_str),
            };
            have.is_some_and(|h| want == "*" || h == want)
        })
    }
}

/// Parse `label=value` matchers from the command line or the API.
pub fn parse_matchers(items: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for item in items {
        let (k, v) =
            item.split_once('=').filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty()).ok_or_else(|| {
                format!("matcher `{item}`: write label=value, e.g. instrument=BTC-USDT or rule=spread-btc")
            })?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    if out.is_empty() {
        return Err("a silence needs at least one matcher (label=value)".into());
    }
    Ok(out)
}

/// The silences in Redis under `prefix` + `silence:<id>`.
pub struct Silences {
    store: StateStore,
}

impl Silences {
    pub fn new(redis_url: &str, prefix: &str) -> Silences {
        Silences { store: StateStore::new(redis_url, prefix) }
    }

    /// Store a silence; Redis drops it when it ends.
    pub fn add(&mut self, s: &Silence) -> Result<(), StateError> {
        self.store.put_until(&format!("silence:{}", s.id), SCHEMA, s, s.ends_at_us / 1000 + 1)
    }

    pub fn delete(&mut self, id: &str) -> Result<bool, StateError> {
        self.store.delete(&format!("silence:{id}"))
    }

    /// Every stored silence (active or starting later), by start time.
    pub fn list(&mut self) -> Result<Vec<Silence>, StateError> {
        let mut out = Vec::new();
        for key in self.store.keys("silence:*")? {
            if let Some(s) = self.store.get::<Silence>(&key, SCHEMA)? {
                out.push(s);
            }
        }
        out.sort_by_key(|s| (s.starts_at_us, s.id.clone()));
        Ok(out)
    }
}

/// A new silence id: time-ordered and unique enough for a human-sized list.
pub fn new_id(now_us: i64) -> String {
    format!("{:x}{:04x}", now_us, std::process::id() & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwatch_model::{AlertSeverity, AlertState};

    #[test]
    fn matchers_match_labels_rule_and_fingerprint() {
        let mut labels = BTreeMap::new();
        labels.insert("instrument".to_string(), "BTC-USDT".to_string());
        labels.insert("rule".to_string(), "spread-btc".to_string());
        let alert = Alert {
            fingerprint: "spread-btc/binance/okx/BTC-USDT".into(),
            rule: "spread-btc".into(),
            severity: AlertSeverity::P1,
            state: AlertState::Firing,
            venue: None,
            instrument: None,
            value: None,
            threshold: None,
            summary: String::new(),
            labels,
            started_at_us: 0,
            emitted_at_us: 0,
        };
        let s = |items: &[&str]| Silence {
            id: "1".into(),
            matchers: parse_matchers(&items.iter().map(|i| i.to_string()).collect::<Vec<_>>()).unwrap(),
            starts_at_us: 0,
            ends_at_us: 10,
            created_by: "t".into(),
            comment: String::new(),
        };
        assert!(s(&["instrument=BTC-USDT"]).matches(&alert));
        assert!(s(&["rule=spread-btc", "instrument=*"]).matches(&alert));
        assert!(s(&["fingerprint=spread-btc/binance/okx/BTC-USDT"]).matches(&alert));
        assert!(!s(&["instrument=ETH-USDT"]).matches(&alert));
        assert!(!s(&["channel=*"]).matches(&alert), "a missing label never matches");
        assert!(s(&["rule=spread-btc"]).active(9) && !s(&["rule=spread-btc"]).active(10));
        assert!(parse_matchers(&["instrument".into()]).unwrap_err().contains("label=value"));
    }
}
