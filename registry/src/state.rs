//! The registry's state: what the `_schemas` log says, folded into maps. Pure data, no I/O:
//! the same records rebuild the same state, which is how ids survive a restart.

use crate::compat::CompatibilityLevel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Key of a record in the `_schemas` topic (the layout Confluent's registry uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "keytype", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogKey {
    Schema {
        subject: String,
        version: i32,
        magic: i32,
    },
    Config {
        subject: Option<String>,
        magic: i32,
    },
    /// Written at start-up and read back: proves the reader has seen the whole log.
    Noop {
        magic: i32,
    },
}

/// Value of a `SCHEMA` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: u32,
    #[serde(default = "avro")]
    pub schema_type: String,
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
}

fn avro() -> String {
    "AVRO".into()
}

/// Value of a `CONFIG` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigValue {
    pub compatibility_level: CompatibilityLevel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub version: i32,
    pub id: u32,
    pub deleted: bool,
}

#[derive(Debug, Default)]
pub struct State {
    /// subject → versions, ascending.
    pub subjects: BTreeMap<String, Vec<VersionEntry>>,
    /// global id → schema text as first registered.
    pub schemas: BTreeMap<u32, String>,
    /// canonical form → global id: the same schema always gets the same id.
    pub ids_by_canonical: BTreeMap<String, u32>,
    pub global_level: CompatibilityLevel,
    pub subject_levels: BTreeMap<String, CompatibilityLevel>,
}

/// Whitespace- and key-order-insensitive form of a schema: the identity used for ids.
pub fn canonical(schema_json: &serde_json::Value) -> String {
    // serde_json's map is ordered by key, so re-serialising sorts every object.
    serde_json::to_string(schema_json).expect("a JSON value serialises")
}

impl State {
    /// Fold one log record in. `value == None` is a tombstone (permanent delete).
    pub fn apply(&mut self, key: &LogKey, value: Option<&[u8]>) -> Result<(), serde_json::Error> {
        match key {
            LogKey::Noop { .. } => {}
            LogKey::Config { subject, .. } => {
                let level = match value {
                    Some(v) => Some(serde_json::from_slice::<ConfigValue>(v)?.compatibility_level),
                    None => None,
                };
                match (subject, level) {
                    (None, Some(l)) => self.global_level = l,
                    (None, None) => self.global_level = CompatibilityLevel::default(),
                    (Some(s), Some(l)) => {
                        self.subject_levels.insert(s.clone(), l);
                    }
                    (Some(s), None) => {
                        self.subject_levels.remove(s);
                    }
                }
            }
            LogKey::Schema { subject, version, .. } => match value {
                None => {
                    if let Some(versions) = self.subjects.get_mut(subject) {
                        versions.retain(|v| v.version != *version);
                        if versions.is_empty() {
                            self.subjects.remove(subject);
                        }
                    }
                }
                Some(v) => {
                    let sv: SchemaValue = serde_json::from_slice(v)?;
                    let parsed: serde_json::Value = serde_json::from_str(&sv.schema)?;
                    self.schemas.entry(sv.id).or_insert_with(|| sv.schema.clone());
                    self.ids_by_canonical.entry(canonical(&parsed)).or_insert(sv.id);
                    let versions = self.subjects.entry(sv.subject.clone()).or_default();
                    let entry = VersionEntry { version: sv.version, id: sv.id, deleted: sv.deleted };
                    match versions.iter_mut().find(|e| e.version == sv.version) {
                        Some(existing) => *existing = entry,
                        None => {
                            versions.push(entry);
                            versions.sort_by_key(|e| e.version);
                        }
                    }
                }
            },
        }
        Ok(())
    }

    pub fn level_of(&self, subject: &str) -> CompatibilityLevel {
        self.subject_levels.get(subject).copied().unwrap_or(self.global_level)
    }

    /// Live (not soft-deleted) versions of a subject.
    pub fn live_versions(&self, subject: &str) -> Vec<&VersionEntry> {
        self.subjects.get(subject).map(|v| v.iter().filter(|e| !e.deleted).collect()).unwrap_or_default()
    }

    pub fn next_id(&self) -> u32 {
        self.schemas.keys().next_back().map_or(1, |m| m + 1)
    }

    pub fn next_version(&self, subject: &str) -> i32 {
        self.subjects.get(subject).and_then(|v| v.last()).map_or(1, |e| e.version + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(state: &mut State, subject: &str, version: i32, id: u32, schema: &str, deleted: bool) {
        let key = LogKey::Schema { subject: subject.into(), version, magic: 1 };
        let value = SchemaValue {
            subject: subject.into(),
            version,
            id,
            schema_type: "AVRO".into(),
            schema: schema.into(),
            deleted,
        };
        state.apply(&key, Some(&serde_json::to_vec(&value).unwrap())).unwrap();
    }

    #[test]
    fn keys_use_the_confluent_layout() {
        let k = LogKey::Schema { subject: "trades-value".into(), version: 2, magic: 1 };
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            r#"{"keytype":"SCHEMA","subject":"trades-value","version":2,"magic":1}"#
        );
        let c = LogKey::Config { subject: None, magic: 0 };
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"keytype":"CONFIG","subject":null,"magic":0}"#);
    }

    #[test]
    fn folding_the_log_rebuilds_ids_and_versions() {
        let mut s = State::default();
        put(&mut s, "a", 1, 1, r#"{"type":"string"}"#, false);
        put(&mut s, "b", 1, 1, r#"{"type":"string"}"#, false);
        put(&mut s, "a", 2, 2, r#"{"type":"long"}"#, false);
        assert_eq!(s.next_id(), 3);
        assert_eq!(s.next_version("a"), 3);
        assert_eq!(s.ids_by_canonical[&canonical(&serde_json::json!({"type": "long"}))], 2);
        put(&mut s, "a", 2, 2, r#"{"type":"long"}"#, true);
        assert_eq!(s.live_versions("a").len(), 1);
        s.apply(&LogKey::Schema { subject: "a".into(), version: 2, magic: 1 }, None).unwrap();
        assert_eq!(s.subjects["a"].len(), 1);
        // Ids are never reused, even after a permanent delete.
        assert_eq!(s.next_id(), 3);
        let cfg = serde_json::to_vec(&ConfigValue { compatibility_level: CompatibilityLevel::Full }).unwrap();
        s.apply(&LogKey::Config { subject: Some("a".into()), magic: 0 }, Some(&cfg)).unwrap();
        assert_eq!(s.level_of("a"), CompatibilityLevel::Full);
        assert_eq!(s.level_of("b"), CompatibilityLevel::Backward);
    }
}
