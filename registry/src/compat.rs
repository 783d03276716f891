//! Compatibility levels and the checks behind them, with `apache-avro`'s schema resolution
//! rules (the same rules a consumer meets when it decodes).

use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use apache_avro::Schema;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    /// New readers must read old data.
    fn backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Old readers must read new data.
    fn forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl FromStr for CompatibilityLevel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        serde_json::from_value(serde_json::Value::String(s.to_ascii_uppercase())).map_err(|_| ())
    }
}

/// One reason a candidate schema is refused, in words a user can act on.
fn can_read(writer: &Schema, reader: &Schema, what: &str) -> Result<(), String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => Ok(()),
        Ok(Compatibility::Partial) => {
            Err(format!("{what}: only partially compatible (an enum or union lost members that old data may use)"))
        }
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// Check `candidate` against the existing versions (oldest first) under `level`.
/// Returns the reasons it is incompatible, empty when it is compatible.
pub fn check(level: CompatibilityLevel, candidate: &Schema, existing: &[&Schema]) -> Vec<String> {
    if level == CompatibilityLevel::None || existing.is_empty() {
        return Vec::new();
    }
    let against: Vec<&Schema> = if level.transitive() { existing.to_vec() } else { vec![existing[existing.len() - 1]] };
    let mut problems = Vec::new();
    for old in against {
        if level.backward() {
            if let Err(e) = can_read(old, candidate, "new schema cannot read data written with an earlier one") {
                problems.push(e);
            }
        }
        if level.forward() {
            if let Err(e) = can_read(candidate, old, "an earlier schema cannot read data written with the new one") {
                problems.push(e);
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(fields: &str) -> Schema {
        Schema::parse_str(&format!(r#"{{"type":"record","name":"T","fields":[{fields}]}}"#)).unwrap()
    }

    #[test]
    fn backward_rules() {
        let v1 = s(r#"{"name":"a","type":"long"}"#);
        let added_with_default = s(r#"{"name":"a","type":"long"},{"name":"b","type":"string","default":""}"#);
        let added_without_default = s(r#"{"name":"a","type":"long"},{"name":"b","type":"string"}"#);
        let type_changed = s(r#"{"name":"a","type":"string"}"#);
        let removed = s(r#"{"name":"c","type":["null","long"],"default":null}"#);
        let promoted = s(r#"{"name":"a","type":"double"}"#);
        let b = CompatibilityLevel::Backward;
        assert!(check(b, &added_with_default, &[&v1]).is_empty());
        assert!(!check(b, &added_without_default, &[&v1]).is_empty());
        assert!(!check(b, &type_changed, &[&v1]).is_empty());
        // Removing a field is backward compatible (the new reader ignores it)...
        assert!(check(b, &removed, &[&v1]).is_empty());
        // ...but not forward: old readers need the required field.
        assert!(!check(CompatibilityLevel::Forward, &removed, &[&v1]).is_empty());
        assert!(check(b, &promoted, &[&v1]).is_empty());
        assert!(check(CompatibilityLevel::None, &type_changed, &[&v1]).is_empty());
        // Transitive checks every version, not just the latest.
        assert!(check(b, &type_changed, &[&v1, &type_changed]).is_empty());
        assert!(!check(CompatibilityLevel::BackwardTransitive, &type_changed, &[&v1, &type_changed]).is_empty());
    }

    #[test]
    fn levels_parse_like_confluent() {
        assert_eq!("backward".parse(), Ok(CompatibilityLevel::Backward));
        assert_eq!("FULL_TRANSITIVE".parse(), Ok(CompatibilityLevel::FullTransitive));
        assert_eq!("SIDEWAYS".parse::<CompatibilityLevel>(), Err(()));
    }
}
