//! The rule engine: every signal is matched against every rule; each (rule, series) pair has a
//! small state machine.
//!
//! ```text
//!            value holds                 held for `for` (series time or its kind's clock)
//!   OK ───────────────────▶ PENDING ─────────────────────────────────────▶ FIRING
//!    ▲  ◀─────────────────────┘ value fails                                   │
//!    └──────────────────────────────────────────── value fails: RESOLVED ◀────┘
//! ```
//!
//! Time is event time: a signal's `at_us`, and per signal kind the latest `at_us` seen (so
//! that a spread that stopped updating still completes its `for` while other spreads move).
//! Each FIRING and RESOLVED is emitted once per episode, stamped with the event time that
//! decided it, so a replay after a crash emits the very same records (deduplicated by the
//! alerts table's key and by the notifier).

use crate::rules::expr::{Condition, Threshold};
use crate::rules::file::{AlertsFile, Rule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tickwatch_model::{Alert, AlertState, Signal};

/// The state the engine keeps across restarts (Redis, schema [`STATE_SCHEMA`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineState {
    /// Per fingerprint: the episodes in progress (pending or firing).
    pub series: BTreeMap<String, Episode>,
    /// Per fingerprint: event time of the last signal applied (older ones are replays).
    pub last_at_us: BTreeMap<String, i64>,
    /// Per signal kind: the latest event time seen.
    pub clocks: BTreeMap<String, i64>,
}

pub const STATE_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub rule: String,
    pub kind: String,
    pub labels: BTreeMap<String, String>,
    /// When the condition started to hold.
    pub since_us: i64,
    pub firing: bool,
    pub value: f64,
    pub threshold: f64,
}

pub struct Engine {
    rules: Vec<Rule>,
    pub state: EngineState,
}

/// The series labels of a signal.
fn series_labels(s: &Signal) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert("venue".to_string(), s.venue.clone());
    l.insert("instrument".to_string(), s.instrument.clone());
    for (k, v) in [("venue_b", &s.venue_b), ("channel", &s.channel), ("interval", &s.interval)] {
        if let Some(v) = v {
            l.insert(k.to_string(), v.clone());
        }
    }
    l
}

/// `rule/venue[/venue_b]/instrument[/channel][/interval]`: readable and stable.
fn fingerprint(rule: &str, s: &Signal) -> String {
    let mut f = format!("{rule}/{}", s.venue);
    for part in [s.venue_b.as_deref(), Some(s.instrument.as_str()), s.channel.as_deref(), s.interval.as_deref()]
        .into_iter()
        .flatten()
    {
        f.push('/');
        f.push_str(part);
    }
    f
}

fn matches(c: &Condition, s: &Signal) -> bool {
    if c.function.name != s.kind {
        return false;
    }
    let plain = c.matches("instrument", Some(&s.instrument))
        && c.matches("channel", s.channel.as_deref())
        && c.matches("interval", s.interval.as_deref());
    // A spread's pair is stored in name order; the rule may name it either way round.
    let b = s.venue_b.as_deref();
    plain
        && ((c.matches("venue", Some(&s.venue)) && c.matches("venue_b", b))
            || (c.function.name == "spread" && c.matches("venue", b) && c.matches("venue_b", Some(&s.venue))))
}

fn threshold_of(rule: &Rule, s: &Signal) -> f64 {
    match rule.when.threshold {
        Threshold::Value(v) => v,
        Threshold::Band => rule.bands.as_ref().map_or(f64::INFINITY, |b| b.limit(&s.venue, &s.instrument)),
    }
}

impl Engine {
    pub fn new(file: &AlertsFile, state: EngineState) -> Engine {
        let rules = file
            .rules
            .iter()
            .filter(|r| r.enabled)
            .map(|r| Rule { severity: Some(r.severity.unwrap_or(file.defaults.severity)), ..r.clone() })
            .collect();
        Engine { rules, state }
    }

    /// Apply one signal; returns the alerts it fires or resolves.
    pub fn on_signal(&mut self, s: &Signal) -> Vec<Alert> {
        let clock = self.state.clocks.entry(s.kind.clone()).or_insert(i64::MIN);
        *clock = (*clock).max(s.at_us);
        let mut out = Vec::new();
        for i in 0..self.rules.len() {
            let rule = &self.rules[i];
            if !matches(&rule.when, s) {
                continue;
            }
            let fp = fingerprint(&rule.name, s);
            let last = self.state.last_at_us.entry(fp.clone()).or_insert(i64::MIN);
            if s.at_us <= *last {
                continue; // already applied (a replay, or out of order)
            }
            *last = s.at_us;
            let threshold = threshold_of(rule, s);
            let value = if rule.when.abs { s.value.abs() } else { s.value };
            let holds = value.is_finite() && rule.when.cmp.holds(value, threshold);
            match (holds, self.state.series.get_mut(&fp)) {
                (true, Some(ep)) => {
                    ep.value = value;
                    ep.threshold = threshold;
                }
                (true, None) => {
                    let mut labels = series_labels(s);
                    labels.extend(rule.labels.clone());
                    let ep = Episode {
                        rule: rule.name.clone(),
                        kind: s.kind.clone(),
                        labels,
                        since_us: s.at_us,
                        firing: false,
                        value,
                        threshold,
                    };
                    self.state.series.insert(fp.clone(), ep);
                }
                (false, Some(_)) => {
                    let mut ep = self.state.series.remove(&fp).expect("present");
                    if ep.firing {
                        ep.value = value;
                        out.push(self.alert(&fp, &ep, AlertState::Resolved, s.at_us));
                    }
                }
                (false, None) => {}
            }
        }
        out.extend(self.advance());
        out
    }

    /// Fire every pending episode whose condition has held for its rule's `for` by its
    /// kind's clock.
    pub fn advance(&mut self) -> Vec<Alert> {
        let mut out = Vec::new();
        let due: Vec<(String, i64)> = self
            .state
            .series
            .iter()
            .filter(|(_, ep)| !ep.firing)
            .filter_map(|(fp, ep)| {
                let rule = self.rules.iter().find(|r| r.name == ep.rule)?;
                let clock = *self.state.clocks.get(&ep.kind)?;
                let at = ep.since_us + rule.when.for_us;
                (clock >= at).then_some((fp.clone(), at))
            })
            .collect();
        for (fp, at) in due {
            let ep = self.state.series.get_mut(&fp).expect("present");
            ep.firing = true;
            let ep = ep.clone();
            out.push(self.alert(&fp, &ep, AlertState::Firing, at));
        }
        out
    }

    fn alert(&self, fp: &str, ep: &Episode, state: AlertState, at_us: i64) -> Alert {
        let rule = self.rules.iter().find(|r| r.name == ep.rule).expect("episodes belong to rules");
        let summary = match &rule.summary {
            Some(t) => t.replace("{value}", &round(ep.value)).replace("{threshold}", &round(ep.threshold)),
            None => format!(
                "{}: {} is {} {} (threshold {})",
                match state {
                    AlertState::Firing => "FIRING",
                    AlertState::Resolved => "RESOLVED",
                },
                rule.when,
                round(ep.value),
                rule.when.function.unit.name(),
                round(ep.threshold)
            ),
        };
        let mut labels = ep.labels.clone();
        labels.insert("rule".into(), rule.name.clone());
        Alert {
            fingerprint: fp.to_string(),
            rule: rule.name.clone(),
            severity: rule.severity.expect("set in new"),
            state,
            venue: ep.labels.get("venue").cloned(),
            instrument: ep.labels.get("instrument").cloned(),
            value: Some(ep.value),
            threshold: Some(ep.threshold),
            summary,
            labels,
            started_at_us: ep.since_us,
            emitted_at_us: at_us,
        }
    }

    /// Fingerprints currently firing.
    pub fn firing(&self) -> Vec<&str> {
        self.state.series.iter().filter(|(_, e)| e.firing).map(|(f, _)| f.as_str()).collect()
    }
}

fn round(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    format!("{r}")
}
