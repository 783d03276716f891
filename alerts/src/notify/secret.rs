//! Secrets in the notifier settings: webhook URLs (they carry the token), the Lark signing
//! secret, SMTP credentials. The file says where the secret is (`{env: VAR}`, `{file: PATH}`,
//! or `{value: TEXT}` for tests and local runs); it is read once at startup, and neither the
//! setting nor the value ever prints: both show `***` in Debug and Display, so a secret
//! cannot reach a log line by accident.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// Where a secret is, as written in the settings.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SecretSpec")]
pub struct Secret(Source);

#[derive(Clone, PartialEq, Eq)]
enum Source {
    Env(String),
    File(PathBuf),
    Value(String),
}

/// The YAML shape: exactly one of the three keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretSpec {
    env: Option<String>,
    file: Option<PathBuf>,
    value: Option<String>,
}

impl TryFrom<SecretSpec> for Secret {
    type Error = String;

    fn try_from(spec: SecretSpec) -> Result<Secret, String> {
        match (spec.env, spec.file, spec.value) {
            (Some(var), None, None) if !var.is_empty() => Ok(Secret(Source::Env(var))),
            (None, Some(path), None) if !path.as_os_str().is_empty() => Ok(Secret(Source::File(path))),
            (None, None, Some(value)) => Ok(Secret(Source::Value(value))),
            _ => Err("a secret is written as exactly one of {env: VARIABLE}, {file: /path/to/file} or \
                      {value: TEXT} (value only for tests and local runs)"
                .to_string()),
        }
    }
}

/// Why a secret could not be read; names the variable or file, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable `{0}` is not set")]
    EnvMissing(String),
    #[error("environment variable `{0}` is not valid UTF-8")]
    EnvNotUnicode(String),
    #[error("cannot read secret file {}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
    #[error("{0} is empty")]
    Empty(String),
}

impl Secret {
    /// `{env: VAR}`.
    pub fn from_env(var: impl Into<String>) -> Secret {
        Secret(Source::Env(var.into()))
    }

    /// `{file: PATH}`.
    pub fn from_file(path: impl Into<PathBuf>) -> Secret {
        Secret(Source::File(path.into()))
    }

    /// `{value: TEXT}`: the secret itself, for tests and local runs.
    pub fn from_value(value: impl Into<String>) -> Secret {
        Secret(Source::Value(value.into()))
    }

    /// Read the secret now. A file's trailing line break is dropped (editors and `echo` add
    /// one); an empty secret is an error, as it is never what was meant.
    pub fn resolve(&self) -> Result<SecretValue, SecretError> {
        let (value, what) = match &self.0 {
            Source::Env(var) => match std::env::var(var) {
                Ok(v) => (v, format!("environment variable `{var}`")),
                Err(std::env::VarError::NotPresent) => return Err(SecretError::EnvMissing(var.clone())),
                Err(std::env::VarError::NotUnicode(_)) => return Err(SecretError::EnvNotUnicode(var.clone())),
            },
            Source::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => {
                    (text.trim_end_matches(['\n', '\r']).to_string(), format!("secret file {}", path.display()))
                }
                Err(source) => return Err(SecretError::File { path: path.clone(), source }),
            },
            Source::Value(v) => (v.clone(), "the secret's `value`".to_string()),
        };
        if value.is_empty() {
            return Err(SecretError::Empty(what));
        }
        Ok(SecretValue(value))
    }

    /// Where the secret comes from, for error messages: `environment variable `X``, `file P`,
    /// or `the inline value` (never the value itself).
    pub fn origin(&self) -> String {
        match &self.0 {
            Source::Env(var) => format!("environment variable `{var}`"),
            Source::File(path) => format!("file {}", path.display()),
            Source::Value(_) => "the inline value".to_string(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A secret read at startup. Only [`SecretValue::expose`] gives the text, at the one place
/// that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_the_setting_nor_the_value_prints() {
        let secret = Secret::from_value("hunter2-token");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        let value = secret.resolve().unwrap();
        assert_eq!(format!("{value:?} {value}"), "*** ***");
        assert_eq!(value.expose(), "hunter2-token");
        // Inside a larger Debug (a settings struct printed whole) too.
        assert!(!format!("{:?}", Some((&secret, &value))).contains("hunter2"));
    }

    #[test]
    fn a_missing_variable_is_named() {
        let var = "TICKWATCH_TEST_SURELY_UNSET_VARIABLE";
        let err = Secret::from_env(var).resolve().unwrap_err();
        assert_eq!(err.to_string(), format!("environment variable `{var}` is not set"));
    }

    #[test]
    fn a_missing_file_is_named_and_a_trailing_newline_dropped() {
        let dir = std::env::temp_dir().join(format!("tw-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("absent");
        let err = Secret::from_file(&missing).resolve().unwrap_err();
        assert!(err.to_string().contains(&missing.display().to_string()), "{err}");
        let present = dir.join("present");
        std::fs::write(&present, "s3cr3t\n").unwrap();
        assert_eq!(Secret::from_file(&present).resolve().unwrap().expose(), "s3cr3t");
        std::fs::write(&present, "\n").unwrap();
        assert!(matches!(Secret::from_file(&present).resolve(), Err(SecretError::Empty(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn yaml_takes_exactly_one_source() {
        let s: Secret = serde_yaml::from_str("{env: SLACK_URL}").unwrap();
        assert_eq!(s, Secret::from_env("SLACK_URL"));
        let s: Secret = serde_yaml::from_str("{file: /run/secrets/x}").unwrap();
        assert_eq!(s, Secret::from_file("/run/secrets/x"));
        for bad in ["{env: A, file: /b}", "{}", "{environment: A}", "plain-text"] {
            assert!(serde_yaml::from_str::<Secret>(bad).is_err(), "{bad} was accepted");
        }
    }
}
