//! The notifier's policy: grouping, waits, re-notify interval, dedup, silences.

use std::collections::BTreeMap;
use std::path::Path;
use tickwatch_alerts::dispatch::{Dispatcher, Outgoing};
use tickwatch_alerts::rules::AlertsFile;
use tickwatch_alerts::silences::Silence;
use tickwatch_model::{Alert, AlertSeverity, AlertState};

const RULES: &str = r#"
defaults: {group_wait: 2s, group_interval: 10s, repeat_interval: 1h, notify: [slack]}
rules:
  - name: spread
    when: spread(*, *, *) > 10 bps
    severity: P1
    group_by: [instrument]
    notify: [slack, email]
  - name: loss
    when: loss(*, *, *) > 1 %
"#;

const S: i64 = 1_000_000;

fn file() -> AlertsFile {
    AlertsFile::parse(Path::new("alerts.yaml"), RULES).unwrap()
}

fn alert(rule: &str, venue: &str, instrument: &str, state: AlertState, started: i64) -> Alert {
    let mut labels = BTreeMap::new();
    for (k, v) in [("rule", rule), ("venue", venue), ("instrument", instrument)] {
        labels.insert(k.to_string(), v.to_string());
    }
    Alert {
        fingerprint: format!("{rule}/{venue}/{instrument}"),
        rule: rule.into(),
        severity: if rule == "spread" { AlertSeverity::P1 } else { AlertSeverity::P2 },
        state,
        venue: Some(venue.into()),
        instrument: Some(instrument.into()),
        value: Some(12.0),
        threshold: Some(10.0),
        summary: String::new(),
        labels,
        started_at_us: started,
        emitted_at_us: started,
    }
}

/// (group, [(fingerprint, state)], reminder) of each message.
type Told = Vec<(String, Vec<(String, AlertState)>, bool)>;

fn told(out: &[Outgoing]) -> Told {
    out.iter()
        .map(|o| {
            let n = &o.notification;
            (n.group.clone(), n.alerts.iter().map(|a| (a.fingerprint.clone(), a.state)).collect(), n.reminder)
        })
        .collect()
}

#[test]
fn a_storm_goes_out_as_one_message_per_group_after_the_wait() {
    let (f, mut d) = (file(), Dispatcher::default());
    let t = f.timing();
    for venue in ["okx", "bybit", "binance"] {
        d.on_alert(&f, alert("spread", venue, "BTC-USDT", AlertState::Firing, 0), 0);
    }
    d.on_alert(&f, alert("spread", "okx", "ETH-USDT", AlertState::Firing, 0), S);
    assert!(d.due(t, &[], S).is_empty(), "waiting group_wait");
    let out = d.due(t, &[], 3 * S);
    let groups = told(&out);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].0, "spread/BTC-USDT");
    assert_eq!(groups[0].1.len(), 3, "three venues, one message");
    assert_eq!(groups[1].0, "spread/ETH-USDT");
    assert_eq!(out[0].channels, vec!["slack".to_string(), "email".to_string()], "the rule's channels");
    assert_eq!(out[0].notification.severity, AlertSeverity::P1);
    // The same records again (a replay after a restart): nothing new to tell.
    for venue in ["okx", "bybit", "binance"] {
        d.on_alert(&f, alert("spread", venue, "BTC-USDT", AlertState::Firing, 0), 4 * S);
    }
    assert!(d.due(t, &[], 20 * S).is_empty());
}

#[test]
fn group_interval_spaces_messages_and_resolutions_follow() {
    let (f, mut d) = (file(), Dispatcher::default());
    let t = f.timing();
    d.on_alert(&f, alert("loss", "okx", "BTC-USDT", AlertState::Firing, 0), 0);
    assert_eq!(told(&d.due(t, &[], 2 * S)).len(), 1);
    d.on_alert(&f, alert("loss", "okx", "BTC-USDT", AlertState::Resolved, 0), 3 * S);
    assert!(d.due(t, &[], 5 * S).is_empty(), "10 s after the last message of the group");
    let out = told(&d.due(t, &[], 12 * S));
    assert_eq!(out, vec![("loss".into(), vec![("loss/okx/BTC-USDT".into(), AlertState::Resolved)], false)]);
    assert_eq!(d.due(t, &[], 100 * S).len(), 0, "resolved alerts are forgotten");
}

#[test]
fn a_still_firing_alert_is_repeated_after_the_repeat_interval() {
    let (f, mut d) = (file(), Dispatcher::default());
    let t = f.timing();
    d.on_alert(&f, alert("loss", "okx", "BTC-USDT", AlertState::Firing, 0), 0);
    assert_eq!(d.due(t, &[], 2 * S).len(), 1);
    assert!(d.due(t, &[], 1800 * S).is_empty());
    let out = told(&d.due(t, &[], 3602 * S));
    assert_eq!(out, vec![("loss".into(), vec![("loss/okx/BTC-USDT".into(), AlertState::Firing)], true)]);
    assert!(d.due(t, &[], 3700 * S).is_empty());
}

#[test]
fn silenced_alerts_are_not_told_nor_their_resolution() {
    let (f, mut d) = (file(), Dispatcher::default());
    let t = f.timing();
    let mut matchers = BTreeMap::new();
    matchers.insert("instrument".to_string(), "ETH-USDT".to_string());
    let silence = Silence {
        id: "s1".into(),
        matchers,
        starts_at_us: 0,
        ends_at_us: 60 * S,
        created_by: "test".into(),
        comment: String::new(),
    };
    d.on_alert(&f, alert("spread", "okx", "ETH-USDT", AlertState::Firing, 0), 0);
    d.on_alert(&f, alert("spread", "okx", "BTC-USDT", AlertState::Firing, 0), 0);
    let out = told(&d.due(t, std::slice::from_ref(&silence), 3 * S));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, "spread/BTC-USDT");
    d.on_alert(&f, alert("spread", "okx", "ETH-USDT", AlertState::Resolved, 0), 70 * S);
    assert!(d.due(t, std::slice::from_ref(&silence), 80 * S).is_empty(), "never told firing, so no resolution");
    // After the silence ends, a new episode is told.
    d.on_alert(&f, alert("spread", "okx", "ETH-USDT", AlertState::Firing, 90 * S), 90 * S);
    assert_eq!(told(&d.due(t, &[silence], 93 * S)).len(), 1);
}

#[test]
fn an_alert_still_firing_when_its_silence_ends_is_told_then() {
    let (f, mut d) = (file(), Dispatcher::default());
    let t = f.timing();
    let mut matchers = BTreeMap::new();
    matchers.insert("rule".to_string(), "spread".to_string());
    let silence = Silence {
        id: "s2".into(),
        matchers,
        starts_at_us: 0,
        ends_at_us: 60 * S,
        created_by: "t".into(),
        comment: String::new(),
    };
    let s = std::slice::from_ref(&silence);
    d.on_alert(&f, alert("spread", "bybit", "ETH-USDT", AlertState::Firing, 40 * S), 40 * S);
    assert!(d.due(t, s, 50 * S).is_empty(), "silenced");
    assert!(d.due(t, s, 59 * S).is_empty(), "still silenced");
    let out = told(&d.due(t, s, 61 * S));
    assert_eq!(
        out,
        vec![("spread/ETH-USDT".into(), vec![("spread/bybit/ETH-USDT".into(), AlertState::Firing)], false)]
    );
    assert!(d.due(t, s, 70 * S).is_empty(), "told once");
}

#[test]
fn the_state_survives_a_restart() {
    let (f, mut d) = (file(), Dispatcher::default());
    let t = f.timing();
    d.on_alert(&f, alert("loss", "okx", "BTC-USDT", AlertState::Firing, 0), 0);
    assert_eq!(d.due(t, &[], 2 * S).len(), 1);
    let mut d: Dispatcher = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    d.on_alert(&f, alert("loss", "okx", "BTC-USDT", AlertState::Firing, 0), 3 * S);
    assert!(d.due(t, &[], 20 * S).is_empty(), "already told before the restart");
    d.on_alert(&f, alert("loss", "okx", "BTC-USDT", AlertState::Resolved, 0), 30 * S);
    assert_eq!(told(&d.due(t, &[], 33 * S))[0].1[0].1, AlertState::Resolved);
}
