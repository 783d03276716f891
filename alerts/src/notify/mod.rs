//! Notifiers: what a notification is, and the channels that deliver it.

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
