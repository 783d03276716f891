//! The configured channels, and delivery of one notification to several of them at once.
//!
//! Each selected channel runs its own attempts concurrently with the others, so a channel
//! that is down (and keeps retrying) neither blocks nor delays the rest.

use super::config::{ChannelName, NotifiersConfig, RetryConfig, PREFIX};
use super::email::EmailChannel;
use super::error::NotifyError;
use super::lark::LarkChannel;
use super::retry::{with_retries, ChannelStats, RetryPolicy, StatsSnapshot};
use super::secret::{Secret, SecretValue};
use super::slack::SlackChannel;
use super::Notification;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::path::Path;
use std::time::Duration;
use tickwatch_runtime::ConfigError;

/// Ceiling for any webhook request; each channel's own `timeout` is usually shorter.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The channels of `notifiers:`, ready to send.
pub struct Channels {
    client: reqwest::Client,
    channels: Vec<Channel>,
}

struct Channel {
    name: ChannelName,
    sender: Sender,
    retry: RetryPolicy,
    stats: ChannelStats,
}

enum Sender {
    Slack(SlackChannel),
    Lark(LarkChannel),
    // Boxed: the SMTP transport is several times the size of a webhook channel.
    Email(Box<EmailChannel>),
}

impl Channels {
    /// Check the settings, read every secret and build the configured channels. `path` is the
    /// settings file, for error messages, which name the field (and the variable or file a
    /// secret was to come from), never a secret's value.
    pub fn from_config(cfg: &NotifiersConfig, path: &Path) -> Result<Channels, ConfigError> {
        cfg.validate(path)?;
        let client = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| ConfigError::field(path, PREFIX, format!("cannot build the HTTP client: {e}")))?;
        let policy = |own: &Option<RetryConfig>| RetryPolicy::from(own.as_ref().unwrap_or(&cfg.retry));
        let mut channels = Vec::new();
        if let Some(c) = &cfg.slack {
            let url = webhook_url(path, "slack", &c.webhook_url)?;
            let sender = Sender::Slack(SlackChannel::new(url, c.timeout.get()));
            channels.push(Channel::new(ChannelName::Slack, sender, policy(&c.retry)));
        }
        if let Some(c) = &cfg.lark {
            let url = webhook_url(path, "lark", &c.webhook_url)?;
            let secret = c.secret.as_ref().map(|s| resolve(path, "lark.secret", s)).transpose()?;
            let sender = Sender::Lark(LarkChannel::new(url, secret, c.timeout.get()));
            channels.push(Channel::new(ChannelName::Lark, sender, policy(&c.retry)));
        }
        if let Some(c) = &cfg.email {
            let credentials = match (&c.username, &c.password) {
                (Some(u), Some(p)) => Some((resolve(path, "email.username", u)?, resolve(path, "email.password", p)?)),
                _ => None,
            };
            let email = EmailChannel::new(c, credentials, path)?;
            channels.push(Channel::new(ChannelName::Email, Sender::Email(Box::new(email)), policy(&c.retry)));
        }
        Ok(Channels { client, channels })
    }

    /// The channels built, in the order slack, lark, email.
    pub fn configured(&self) -> Vec<ChannelName> {
        self.channels.iter().map(|c| c.name).collect()
    }

    /// Send `n` to each channel of `only` (each once, however often named), all at the same
    /// time, each retrying on its own. The results come in the order the channels finished;
    /// a channel in `only` that is not configured gets [`NotifyError::NotConfigured`].
    pub async fn deliver(&self, n: &Notification, only: &[ChannelName]) -> Vec<(ChannelName, Result<(), NotifyError>)> {
        let mut wanted = only.to_vec();
        wanted.sort();
        wanted.dedup();
        let mut results = Vec::with_capacity(wanted.len());
        let mut running = FuturesUnordered::new();
        for name in wanted {
            match self.channels.iter().find(|c| c.name == name) {
                Some(channel) => running.push(self.deliver_one(channel, n)),
                None => results.push((name, Err(NotifyError::NotConfigured))),
            }
        }
        while let Some(result) = running.next().await {
            results.push(result);
        }
        results
    }

    async fn deliver_one(&self, channel: &Channel, n: &Notification) -> (ChannelName, Result<(), NotifyError>) {
        let result = with_retries(channel.name, &n.group, channel.retry, &channel.stats, || async {
            match &channel.sender {
                Sender::Slack(s) => s.send(&self.client, n).await,
                Sender::Lark(l) => l.send(&self.client, n).await,
                Sender::Email(e) => e.send(n).await,
            }
        })
        .await;
        (channel.name, result)
    }

    /// Counts of a configured channel since start.
    pub fn stats(&self, name: ChannelName) -> Option<StatsSnapshot> {
        self.channels.iter().find(|c| c.name == name).map(|c| c.stats.snapshot())
    }
}

impl Channel {
    fn new(name: ChannelName, sender: Sender, retry: RetryPolicy) -> Channel {
        Channel { name, sender, retry, stats: ChannelStats::default() }
    }
}

fn resolve(path: &Path, field: &str, secret: &Secret) -> Result<SecretValue, ConfigError> {
    secret.resolve().map_err(|e| ConfigError::field(path, format!("{PREFIX}.{field}"), e.to_string()))
}

/// A webhook URL must be http(s); the message names where it came from, not what it is.
fn webhook_url(path: &Path, channel: &str, secret: &Secret) -> Result<SecretValue, ConfigError> {
    let field = format!("{channel}.webhook_url");
    let url = resolve(path, &field, secret)?;
    let text = url.expose();
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://"));
    if rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) {
        Ok(url)
    } else {
        Err(ConfigError::field(
            path,
            format!("{PREFIX}.{field}"),
            format!("the value of {} is not an http:// or https:// URL", secret.origin()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatcher spawns deliveries on the multi-threaded runtime: the future must be Send.
    #[test]
    fn delivery_can_be_spawned() {
        fn send_and_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        let channels = Channels::from_config(&NotifiersConfig::default(), Path::new("alerts.yaml")).unwrap();
        send_and_sync(&channels);
        let n = Notification {
            group: "g".into(),
            severity: tickwatch_model::AlertSeverity::P1,
            alerts: vec![],
            reminder: false,
        };
        send(channels.deliver(&n, &[ChannelName::Slack]));
        assert!(channels.configured().is_empty());
    }
}
