//! `config/topics.yaml`: the one declaration of every topic, its settings and its schema.

use crate::broker::TopicSpec;
use crate::config_error::{load_yaml, parse_duration_ms, parse_yaml, ConfigError};
use serde::Deserialize;
use std::path::Path;
use tickwatch_model::catalog::{self, SchemaEntry};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    defaults: Defaults,
    topics: Vec<TopicEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    partitions: i32,
    replication: i32,
    retention: String,
    compression: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicEntry {
    name: String,
    value_schema: Option<String>,
    partitions: Option<i32>,
    replication: Option<i32>,
    retention: Option<String>,
    compression: Option<String>,
    #[serde(default)]
    cleanup: Cleanup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cleanup {
    #[default]
    Delete,
    Compact,
}

/// A declared topic, defaults applied.
#[derive(Debug, Clone)]
pub struct Topic {
    pub name: String,
    pub value_schema: Option<&'static SchemaEntry>,
    pub partitions: i32,
    pub replication: i32,
    /// `None` keeps records forever.
    pub retention_ms: Option<i64>,
    pub compression: String,
    pub cleanup: Cleanup,
}

impl Topic {
    /// Schema Registry subject of the value (TopicNameStrategy).
    pub fn value_subject(&self) -> String {
        format!("{}-value", self.name)
    }

    pub fn configs(&self) -> Vec<(String, String)> {
        vec![
            (
                "cleanup.policy".into(),
                match self.cleanup {
                    Cleanup::Delete => "delete",
                    Cleanup::Compact => "compact",
                }
                .into(),
            ),
            ("retention.ms".into(), self.retention_ms.unwrap_or(-1).to_string()),
            ("compression.type".into(), self.compression.clone()),
        ]
    }

    pub fn spec(&self) -> TopicSpec {
        TopicSpec {
            name: self.name.clone(),
            partitions: self.partitions,
            replication: self.replication,
            configs: self.configs(),
        }
    }
}

/// All declared topics.
#[derive(Debug, Clone)]
pub struct Topics(pub Vec<Topic>);

/// `7d`, `12h`, `30m`, `15s`, `500ms` or `forever` (`Some(None)`).
pub fn parse_retention(text: &str) -> Option<Option<i64>> {
    if text == "forever" {
        return Some(None);
    }
    parse_duration_ms(text).map(Some)
}

impl Topics {
    pub fn load(path: &Path) -> Result<Topics, ConfigError> {
        Topics::from_file(path, load_yaml(path)?)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Topics, ConfigError> {
        Topics::from_file(path, parse_yaml(path, text)?)
    }

    fn from_file(path: &Path, file: TopicsFile) -> Result<Topics, ConfigError> {
        let mut out: Vec<Topic> = Vec::new();
        for (i, t) in file.topics.into_iter().enumerate() {
            let at = |f: &str| format!("topics[{i}].{f}");
            if t.name.is_empty() || !t.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                return Err(ConfigError::field(
                    path,
                    at("name"),
                    format!("`{}` is not a valid topic name (letters, digits, . _ -)", t.name),
                ));
            }
            if out.iter().any(|o| o.name == t.name) {
                return Err(ConfigError::field(path, at("name"), format!("topic `{}` is declared twice", t.name)));
            }
            let value_schema = match &t.value_schema {
                None => None,
                Some(name) => Some(catalog::by_name(name).ok_or_else(|| {
                    let known: Vec<&str> = catalog::SCHEMAS.iter().map(|e| e.name).collect();
                    ConfigError::field(
                        path,
                        at("value_schema"),
                        format!("no schema named `{name}`; known: {}", known.join(", ")),
                    )
                })?),
            };
            let retention_text = t.retention.unwrap_or_else(|| file.defaults.retention.clone());
            let retention_ms = parse_retention(&retention_text).ok_or_else(|| {
                ConfigError::field(
                    path,
                    at("retention"),
                    format!("`{retention_text}` is not a duration like 7d, 12h or forever"),
                )
            })?;
            let partitions = t.partitions.unwrap_or(file.defaults.partitions);
            if partitions < 1 {
                return Err(ConfigError::field(path, at("partitions"), "must be at least 1"));
            }
            let replication = t.replication.unwrap_or(file.defaults.replication);
            if replication < 1 {
                return Err(ConfigError::field(path, at("replication"), "must be at least 1"));
            }
            out.push(Topic {
                name: t.name,
                value_schema,
                partitions,
                replication,
                retention_ms,
                compression: t.compression.unwrap_or_else(|| file.defaults.compression.clone()),
                cleanup: t.cleanup,
            });
        }
        Ok(Topics(out))
    }

    pub fn get(&self, name: &str) -> Option<&Topic> {
        self.0.iter().find(|t| t.name == name)
    }

    pub fn specs(&self) -> Vec<TopicSpec> {
        self.0.iter().map(Topic::spec).collect()
    }

    /// The `rpk` script that creates the same topics on a Redpanda cluster.
    pub fn render_rpk_topics(&self) -> String {
        let mut s = String::from(
            "#!/usr/bin/env bash\n# Generated from config/topics.yaml by `tickwatch topics rpk`; do not edit by hand.\n\
             # Creates every tickwatch topic on a Redpanda cluster (rpk's usual flags/env select the cluster).\n\
             set -euo pipefail\n\n\
             # An existing topic is fine (the script is re-runnable); any other failure stops it.\n\
             create() {\n    local out\n    if ! out=\"$(rpk topic create \"$@\" 2>&1)\"; then\n\
             \x20       grep -q TOPIC_ALREADY_EXISTS <<<\"$out\" || { echo \"$out\" >&2; exit 1; }\n    fi\n    echo \"$out\"\n}\n\n",
        );
        for t in &self.0 {
            s.push_str(&format!("create {} -p {} -r {}", t.name, t.partitions, t.replication));
            for (k, v) in t.configs() {
                s.push_str(&format!(" -c {k}={v}"));
            }
            s.push('\n');
        }
        s
    }

    /// The `rpk` script that registers every value schema with compatibility BACKWARD.
    pub fn render_rpk_registry(&self) -> String {
        let mut s = String::from(
            "#!/usr/bin/env bash\n# Generated from config/topics.yaml by `tickwatch topics rpk-registry`; do not edit by hand.\n\
             # Registers each topic's value schema in Redpanda's Schema Registry (subject <topic>-value)\n\
             # and sets its compatibility to BACKWARD. Run from the repository root.\n\
             set -euo pipefail\n\n",
        );
        for t in &self.0 {
            if let Some(schema) = t.value_schema {
                let subject = t.value_subject();
                s.push_str(&format!(
                    "rpk registry compatibility-level set {subject} --level BACKWARD\n\
                     rpk registry schema create {subject} --schema schemas/avro/{} --type avro\n",
                    schema.file
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_units() {
        assert_eq!(parse_retention("7d"), Some(Some(604_800_000)));
        assert_eq!(parse_retention("500ms"), Some(Some(500)));
        assert_eq!(parse_retention("forever"), Some(None));
        assert_eq!(parse_retention("7 days"), None);
        assert_eq!(parse_retention("0d"), None);
    }

    #[test]
    fn the_shipped_declaration_is_valid() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/topics.yaml"));
        let topics = Topics::load(path).unwrap();
        let schemas = topics.get("_schemas").unwrap();
        assert_eq!(schemas.cleanup, Cleanup::Compact);
        assert_eq!(schemas.partitions, 1);
        assert_eq!(schemas.retention_ms, None);
        assert_eq!(topics.get("trades").unwrap().value_schema.unwrap().name, "Trade");
        assert_eq!(topics.get("raw.trades.quarantine").unwrap().retention_ms, Some(30 * 86_400_000));
    }

    #[test]
    fn bad_declarations_name_the_field() {
        let base = "defaults: {partitions: 1, replication: 1, retention: 7d, compression: zstd}\ntopics:\n";
        let err = |t: &str| Topics::parse(Path::new("topics.yaml"), &format!("{base}{t}")).unwrap_err().to_string();
        assert!(err("  - {name: a, value_schema: Nope}").contains("topics[0].value_schema"));
        assert!(err("  - {name: a, value_schema: null, retention: 7 days}").contains("topics[0].retention"));
        assert!(err("  - {name: a, value_schema: null}\n  - {name: a, value_schema: null}").contains("declared twice"));
        assert!(err("  - {name: 'a b', value_schema: null}").contains("not a valid topic name"));
    }
}
