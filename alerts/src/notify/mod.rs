//! Notifiers: what a notification is, and the channels that deliver it.
//!
//! `config` is the `notifiers:` settings; [`Channels::from_config`] reads their secrets and
//! builds the channels; [`Channels::deliver`] sends one notification to several channels at
//! once, each with its own retries. `slack`, `lark` and `email` turn a notification into each
//! service's real message.

pub mod config;
pub mod deliver;
pub mod email;
pub mod error;
mod http;
pub mod lark;
mod render;
pub mod retry;
pub mod secret;
pub mod slack;

pub use config::{ChannelName, NotifiersConfig};
pub use deliver::Channels;
pub use error::NotifyError;
pub use retry::StatsSnapshot;
pub use secret::{Secret, SecretValue};

use tickwatch_model::{Alert, AlertSeverity};

/// One message to people: the alerts of one group that changed (or are due a reminder)
/// together, firing and resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The group key (rule and the rule's `group_by` labels), e.g. `spread-btc/BTC-USDT`.
    pub group: String,
    /// The highest severity among `alerts`.
    pub severity: AlertSeverity,
    /// Firing first, then resolved; each as last emitted by the engine.
    pub alerts: Vec<Alert>,
    /// True when this repeats alerts already notified (the re-notify interval passed).
    pub reminder: bool,
}

/// An alert for unit tests: firing P1 on binance BTC-USDT, value 12.5 against 10.
#[cfg(test)]
pub(crate) fn test_alert(rule: &str) -> Alert {
    Alert {
        fingerprint: format!("fp-{rule}"),
        rule: rule.to_string(),
        severity: AlertSeverity::P1,
        state: tickwatch_model::AlertState::Firing,
        venue: Some("binance".into()),
        instrument: Some("BTC-USDT".into()),
        value: Some(12.5),
        threshold: Some(10.0),
        summary: format!("{rule} above threshold"),
        labels: Default::default(),
        started_at_us: 1_767_323_045_000_000,
        emitted_at_us: 1_767_323_046_000_000,
    }
}

#[cfg(test)]
mod config_tests;
