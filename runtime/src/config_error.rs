//! One error type for every configuration file: it names the file, the field and the fix.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}; pass an existing file with --config (a documented sample is config/tickwatch.yaml)")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: field `{field}`: {message}")]
    Field { path: PathBuf, field: String, message: String },
}

impl ConfigError {
    pub fn field(path: &Path, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Field { path: path.to_path_buf(), field: field.into(), message: message.into() }
    }
}

/// Parse YAML into `T`, reporting the path of the failing field (`clickhouse.url`).
pub fn parse_yaml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { "(top level)".to_string() } else { field };
        let mut message = e.into_inner().to_string();
        // serde_yaml appends " at line L column C"; keep it, it helps find the spot.
        if message.contains("unknown field") {
            message.push_str(" (check the spelling against the sample file)");
        }
        ConfigError::field(path, field, message)
    })
}

/// Read and parse a YAML file.
pub fn load_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse_yaml(path, &text)
}

/// `http://host:port[/...]` or `https://...`: the only URL shape the endpoints take.
pub fn check_http_url(path: &Path, field: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') => Ok(()),
        _ => Err(ConfigError::field(
            path,
            field,
            format!("`{url}` is not an http:// or https:// URL, e.g. http://127.0.0.1:8123"),
        )),
    }
}

/// `host:port`, comma-separated for several.
pub fn check_host_ports(path: &Path, field: &str, list: &str) -> Result<(), ConfigError> {
    let ok = !list.trim().is_empty()
        && list.split(',').all(|hp| match hp.trim().rsplit_once(':') {
            Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
            None => false,
        });
    if ok {
        Ok(())
    } else {
        Err(ConfigError::field(path, field, format!("`{list}` is not a list of host:port, e.g. 127.0.0.1:9092")))
    }
}

/// A positive duration written `500ms`, `15s`, `30m`, `12h` or `7d`, in milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().ok()?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor).filter(|ms| *ms > 0)
}
