//! The words every channel uses for a notification, so Slack, Lark and e-mail say the same
//! thing; each channel only adds its own markup.

use super::Notification;
use tickwatch_model::time::{civil_from_days, UnixMicros};
use tickwatch_model::{Alert, AlertSeverity, AlertState};

/// `FIRING` when any alert of the group fires, else `RESOLVED`.
pub(crate) fn state_word(n: &Notification) -> &'static str {
    if n.alerts.iter().any(|a| a.state == AlertState::Firing) {
        "FIRING"
    } else {
        "RESOLVED"
    }
}

pub(crate) fn any_firing(n: &Notification) -> bool {
    state_word(n) == "FIRING"
}

pub(crate) fn severity_word(s: AlertSeverity) -> &'static str {
    match s {
        AlertSeverity::P1 => "P1",
        AlertSeverity::P2 => "P2",
        AlertSeverity::P3 => "P3",
    }
}

/// `FIRING P1 spread-btc/BTC-USDT`, the subject of every channel.
pub(crate) fn headline(n: &Notification) -> String {
    format!("{} {} {}", state_word(n), severity_word(n.severity), n.group)
}

/// The headline, marked when it repeats alerts already sent.
pub(crate) fn title(n: &Notification) -> String {
    if n.reminder {
        format!("{} (reminder)", headline(n))
    } else {
        headline(n)
    }
}

/// One alert's parts, in the order people read them.
pub(crate) struct AlertText {
    pub state: &'static str,
    pub severity: &'static str,
    pub rule: String,
    /// `binance BTC-USDT`, when the alert is about one venue or instrument.
    pub place: Option<String>,
    /// `value 12.5 vs threshold 10`.
    pub measure: Option<String>,
    /// `since 2026-01-02 03:04:05 UTC`.
    pub since: String,
    pub summary: String,
}

impl AlertText {
    pub fn of(a: &Alert) -> AlertText {
        let state = match a.state {
            AlertState::Firing => "FIRING",
            AlertState::Resolved => "RESOLVED",
        };
        let place = [a.venue.as_deref(), a.instrument.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        let measure = match (a.value, a.threshold) {
            (Some(v), Some(t)) => Some(format!("value {v} vs threshold {t}")),
            (Some(v), None) => Some(format!("value {v}")),
            (None, Some(t)) => Some(format!("threshold {t}")),
            (None, None) => None,
        };
        AlertText {
            state,
            severity: severity_word(a.severity),
            rule: a.rule.clone(),
            place: (!place.is_empty()).then_some(place),
            measure,
            since: format!("since {}", utc(a.started_at_us)),
            summary: a.summary.clone(),
        }
    }

    /// The parts after the rule: place, measure, start time (joined by ` · `).
    pub fn details(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        parts.extend(self.place.as_deref());
        parts.extend(self.measure.as_deref());
        parts.push(&self.since);
        parts.join(" · ")
    }

    /// The whole alert on one line of plain text.
    pub fn plain(&self) -> String {
        format!("{} {} {} · {} · {}", self.state, self.severity, self.rule, self.details(), self.summary)
    }
}

/// `2026-01-02 03:04:05 UTC` (seconds; the pipeline's time is UTC everywhere).
pub(crate) fn utc(us: UnixMicros) -> String {
    let secs = us.div_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

/// `text` cut to at most `max` characters, marked with `…` when cut (channels limit lengths).
pub(crate) fn fit(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((cut, _)) if text.chars().count() > max => format!("{}…", &text[..cut]),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_whole_seconds() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        // 2026-11-24 13:45:07.5
        assert_eq!(utc(20_781 * 86_400_000_000 + 49_507_500_000), "2026-11-24 13:45:07 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn fit_cuts_on_characters() {
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("abcd", 3), "ab…");
        assert_eq!(fit("äöüß", 2), "ä…");
    }
}
