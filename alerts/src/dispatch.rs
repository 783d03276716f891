//! When to tell people: alerts are grouped (a rule and its `group_by` labels), a group's first
//! change waits `group_wait` so that a storm goes out as one message, two messages of a group
//! are at least `group_interval` apart, a still-firing alert is repeated after
//! `repeat_interval`, silenced alerts are not sent (nor their resolution; one still firing
//! when its silence ends is sent then), and an alert state
//! already told is never told again (the engine's records may come twice after a restart).

use crate::notify::Notification;
use crate::rules::file::{AlertsFile, Rule, Timing};
use crate::silences::Silence;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tickwatch_model::{Alert, AlertState};

pub const STATE_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tracked {
    alert: Alert,
    /// The (state, start) last told, and when.
    told: Option<(AlertState, i64)>,
    told_at_us: i64,
    /// Changed since last told.
    changed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Group {
    channels: Vec<String>,
    alerts: BTreeMap<String, Tracked>,
    /// When the next message may go (set when something changed).
    due_us: Option<i64>,
    last_sent_us: Option<i64>,
}

/// The notifier's memory (saved in Redis between batches).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dispatcher {
    groups: BTreeMap<String, Group>,
    /// Alerts seen for rules that no longer exist (counted, not sent).
    pub unknown_rule: u64,
}

/// A message ready to go, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub notification: Notification,
    pub channels: Vec<String>,
}

fn group_key(rule: &Rule, alert: &Alert) -> String {
    let mut key = rule.name.clone();
    for label in &rule.group_by {
        key.push('/');
        key.push_str(alert.labels.get(label).map_or("-", String::as_str));
    }
    key
}

impl Dispatcher {
    /// Take an alert record from the engine at wall time `now_us`.
    pub fn on_alert(&mut self, file: &AlertsFile, alert: Alert, now_us: i64) {
        let Some(rule) = file.rule(&alert.rule) else {
            self.unknown_rule += 1;
            tracing::warn!(rule = %alert.rule, fingerprint = %alert.fingerprint, "alert of a rule not in the rule file; not notified");
            return;
        };
        let timing = file.timing();
        let group = self.groups.entry(group_key(rule, &alert)).or_default();
        group.channels = file.channels_of(rule);
        let key = (alert.state, alert.started_at_us);
        match group.alerts.get_mut(&alert.fingerprint) {
            Some(t) if t.told == Some(key) || (t.alert.state, t.alert.started_at_us) == key => return,
            // An older episode's record arriving late changes nothing.
            Some(t) if alert.started_at_us < t.alert.started_at_us => return,
            Some(t) => {
                t.alert = alert;
                t.changed = true;
            }
            None => {
                let fp = alert.fingerprint.clone();
                group.alerts.insert(fp, Tracked { alert, told: None, told_at_us: 0, changed: true });
            }
        }
        if group.due_us.is_none() {
            let earliest = group.last_sent_us.map_or(i64::MIN, |t| t + timing.group_interval_us);
            group.due_us = Some((now_us + timing.group_wait_us).max(earliest));
        }
    }

    /// Messages due at `now_us`; silenced alerts are dropped from them (and remembered as not
    /// told, so their resolution is not sent either).
    pub fn due(&mut self, timing: Timing, silences: &[Silence], now_us: i64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for (key, g) in self.groups.iter_mut() {
            // Reminders for alerts still firing and told long enough ago, and alerts still
            // firing whose silence has ended (never told yet).
            let mut reminders = false;
            for t in g.alerts.values_mut().filter(|t| !t.changed && t.alert.state == AlertState::Firing) {
                let firing_told = t.told == Some((AlertState::Firing, t.alert.started_at_us));
                let due_again = firing_told && now_us - t.told_at_us >= timing.repeat_interval_us;
                let unsilenced = !firing_told && !silences.iter().any(|s| s.active(now_us) && s.matches(&t.alert));
                if due_again || unsilenced {
                    t.changed = true;
                    reminders = true;
                }
            }
            if reminders && g.due_us.is_none() {
                let earliest = g.last_sent_us.map_or(i64::MIN, |t| t + timing.group_interval_us);
                g.due_us = Some(now_us.max(earliest));
            }
            if g.due_us.is_none_or(|d| d > now_us) {
                continue;
            }
            g.due_us = None;
            let mut firing = Vec::new();
            let mut resolved = Vec::new();
            let mut all_reminders = true;
            for t in g.alerts.values_mut().filter(|t| t.changed) {
                t.changed = false;
                let a = &t.alert;
                let silenced = silences.iter().any(|s| s.active(now_us) && s.matches(a));
                let was_told_firing =
                    t.told.is_some_and(|(s, start)| s == AlertState::Firing && start == a.started_at_us);
                let tell = !silenced && (a.state == AlertState::Firing || was_told_firing);
                if !tell {
                    continue;
                }
                all_reminders &= was_told_firing && a.state == AlertState::Firing;
                t.told = Some((a.state, a.started_at_us));
                t.told_at_us = now_us;
                if a.state == AlertState::Firing {
                    firing.push(a.clone());
                } else {
                    resolved.push(a.clone());
                }
            }
            g.alerts.retain(|_, t| t.alert.state == AlertState::Firing || t.changed);
            if firing.is_empty() && resolved.is_empty() {
                continue;
            }
            g.last_sent_us = Some(now_us);
            let severity = firing.iter().chain(&resolved).map(|a| a.severity).min().expect("not empty");
            firing.extend(resolved);
            out.push(Outgoing {
                notification: Notification { group: key.clone(), severity, alerts: firing, reminder: all_reminders },
                channels: g.channels.clone(),
            });
        }
        self.groups.retain(|_, g| !g.alerts.is_empty() || g.due_us.is_some());
        out
    }
}
