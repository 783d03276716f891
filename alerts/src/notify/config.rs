//! The `notifiers:` settings of `config/alerts.yaml`: which channels exist, where they send,
//! and how hard they try. Only the channels written here are built.

use super::secret::Secret;
use serde::Deserialize;
use std::fmt;
use std::path::Path;
use std::time::Duration;
use tickwatch_runtime::config_error::parse_duration_ms;
use tickwatch_runtime::ConfigError;

/// Where the notifier settings sit in the file, for error messages.
pub(crate) const PREFIX: &str = "notifiers";

/// `notifiers:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifiersConfig {
    /// How every channel retries, unless the channel has its own `retry`.
    #[serde(default)]
    pub retry: RetryConfig,
    pub slack: Option<SlackConfig>,
    pub lark: Option<LarkConfig>,
    pub email: Option<EmailConfig>,
}

/// A Slack incoming webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The webhook URL (it carries the token, hence a secret).
    pub webhook_url: Secret,
    /// Longest wait for one request.
    #[serde(default = "five_seconds")]
    pub timeout: HumanDuration,
    pub retry: Option<RetryConfig>,
}

/// A Lark (Feishu) custom bot webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LarkConfig {
    pub webhook_url: Secret,
    /// The bot's signing secret, when its security settings ask for signature verification.
    pub secret: Option<Secret>,
    #[serde(default = "five_seconds")]
    pub timeout: HumanDuration,
    pub retry: Option<RetryConfig>,
}

/// E-mail over SMTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub smtp_host: String,
    /// Default by `tls`: 25 (none), 587 (starttls), 465 (tls).
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    pub username: Option<Secret>,
    pub password: Option<Secret>,
    /// `alerts@example.com` or `tickwatch <alerts@example.com>`.
    pub from: String,
    pub to: Vec<String>,
    #[serde(default = "default_subject_prefix")]
    pub subject_prefix: String,
    /// Longest wait for each SMTP command.
    #[serde(default = "ten_seconds")]
    pub timeout: HumanDuration,
    pub retry: Option<RetryConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or a test server only).
    None,
    /// Plain connection upgraded with STARTTLS; refuses to go on without it.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl EmailConfig {
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

/// Retries of one notification on one channel: `attempts` tries in all, waiting
/// `initial_backoff`, doubling up to `max_backoff` (or what a 429's `Retry-After` asks).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: HumanDuration,
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            attempts: default_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

/// A duration written `500ms`, `5s`, `2m`, `1h` (the form every tickwatch file uses).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<HumanDuration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration_ms(&text)
            .map(|ms| HumanDuration(Duration::from_millis(ms as u64)))
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a duration like 500ms, 5s or 2m")))
    }
}

/// A notification channel, as rules name them (`channels: [slack, email]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelName {
    Slack,
    Lark,
    Email,
}

impl ChannelName {
    pub const ALL: [ChannelName; 3] = [ChannelName::Slack, ChannelName::Lark, ChannelName::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelName::Slack => "slack",
            ChannelName::Lark => "lark",
            ChannelName::Email => "email",
        }
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl NotifiersConfig {
    /// The channels written in the file.
    pub fn configured(&self) -> Vec<ChannelName> {
        let present = [self.slack.is_some(), self.lark.is_some(), self.email.is_some()];
        ChannelName::ALL.into_iter().zip(present).filter(|(_, p)| *p).map(|(c, _)| c).collect()
    }

    /// What can be checked without reading any secret (for `tickwatch check`); `path` is the
    /// file, for the message. Secrets are read by [`super::Channels::from_config`].
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        check_retry(path, &format!("{PREFIX}.retry"), &self.retry)?;
        let own_retries = [
            ("slack", self.slack.as_ref().and_then(|c| c.retry.as_ref())),
            ("lark", self.lark.as_ref().and_then(|c| c.retry.as_ref())),
            ("email", self.email.as_ref().and_then(|c| c.retry.as_ref())),
        ];
        for (name, retry) in own_retries {
            if let Some(retry) = retry {
                check_retry(path, &format!("{PREFIX}.{name}.retry"), retry)?;
            }
        }
        if let Some(email) = &self.email {
            email.validate(path)?;
        }
        Ok(())
    }
}

impl EmailConfig {
    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let field = |f: &str| format!("{PREFIX}.email.{f}");
        if self.smtp_host.trim().is_empty() {
            return Err(ConfigError::field(path, field("smtp_host"), "is empty; e.g. smtp.example.com"));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(ConfigError::field(
                path,
                field(if self.username.is_some() { "password" } else { "username" }),
                "username and password are set together (or neither, for a server without login)",
            ));
        }
        self.from.parse::<lettre::message::Mailbox>().map_err(|e| {
            ConfigError::field(path, field("from"), format!("`{}` is not an e-mail address: {e}", self.from))
        })?;
        if self.to.is_empty() {
            return Err(ConfigError::field(path, field("to"), "lists no address; e.g. [oncall@example.com]"));
        }
        for (i, to) in self.to.iter().enumerate() {
            to.parse::<lettre::message::Mailbox>().map_err(|e| {
                ConfigError::field(path, field(&format!("to[{i}]")), format!("`{to}` is not an e-mail address: {e}"))
            })?;
        }
        Ok(())
    }
}

fn check_retry(path: &Path, field: &str, retry: &RetryConfig) -> Result<(), ConfigError> {
    if retry.attempts == 0 {
        return Err(ConfigError::field(path, format!("{field}.attempts"), "must be at least 1 (1 = no retry)"));
    }
    if retry.initial_backoff > retry.max_backoff {
        return Err(ConfigError::field(path, format!("{field}.initial_backoff"), "is longer than max_backoff"));
    }
    Ok(())
}

fn five_seconds() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

fn ten_seconds() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

fn default_subject_prefix() -> String {
    "[tickwatch]".to_string()
}

fn default_attempts() -> u32 {
    5
}

fn default_initial_backoff() -> HumanDuration {
    HumanDuration(Duration::from_millis(500))
}

fn default_max_backoff() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
