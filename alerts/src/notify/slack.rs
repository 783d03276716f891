//! Slack incoming webhook: POST `{"text": fallback, "blocks": [...]}`; success is HTTP 200.
//!
//! Blocks are a header with the headline and one section per alert. `text` is what Slack
//! shows in notifications and where blocks cannot be drawn, so it carries the same lines.

use super::error::NotifyError;
use super::http::post_json;
use super::render::{title, AlertText};
use super::secret::SecretValue;
use super::Notification;
use serde_json::{json, Value};
use std::time::Duration;

/// Slack's limits: 50 blocks a message, 150 characters a header, 3000 a section's text.
const MAX_BLOCKS: usize = 50;
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
/// The fallback text stays well under Slack's message limit (it truncates past 40 000).
const TEXT_MAX: usize = 3000;

pub(crate) struct SlackChannel {
    webhook_url: SecretValue,
    timeout: Duration,
}

impl SlackChannel {
    pub fn new(webhook_url: SecretValue, timeout: Duration) -> SlackChannel {
        SlackChannel { webhook_url, timeout }
    }

    pub async fn send(&self, client: &reqwest::Client, n: &Notification) -> Result<(), NotifyError> {
        let answer = post_json(client, &self.webhook_url, self.timeout, &payload(n)).await?;
        if answer.status == reqwest::StatusCode::OK {
            Ok(())
        } else {
            Err(answer.into_error())
        }
    }
}

/// The webhook body for `n`.
pub fn payload(n: &Notification) -> Value {
    let texts: Vec<AlertText> = n.alerts.iter().map(AlertText::of).collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": super::render::fit(&title(n), HEADER_MAX)}}),
    ];
    // The header takes one block; keep one for the "and N more" line when alerts overflow.
    let room = if texts.len() > MAX_BLOCKS - 1 { MAX_BLOCKS - 2 } else { MAX_BLOCKS - 1 };
    for t in texts.iter().take(room) {
        let line = format!(
            "*{}* {} *{}* · {}\n{}",
            t.state,
            t.severity,
            escape(&t.rule),
            escape(&t.details()),
            escape(&t.summary)
        );
        blocks.push(section(&line));
    }
    if texts.len() > room {
        blocks.push(section(&format!("…and {} more", texts.len() - room)));
    }
    let mut text = escape(&title(n));
    for t in &texts {
        text.push('\n');
        text.push_str(&escape(&t.plain()));
    }
    json!({"text": super::render::fit(&text, TEXT_MAX), "blocks": blocks})
}

fn section(mrkdwn: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": super::render::fit(mrkdwn, SECTION_MAX)}})
}

/// Slack reads `&`, `<` and `>` as markup (`<!channel>` pings everyone), so text from rules
/// and signals is escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::test_alert;

    #[test]
    fn markup_from_rules_is_escaped() {
        let mut a = test_alert("spread<btc>");
        a.summary = "<!channel> spread & more".into();
        let n = Notification { group: "g".into(), severity: a.severity, alerts: vec![a], reminder: false };
        let body = payload(&n).to_string();
        assert!(!body.contains("<!channel>"), "{body}");
        assert!(body.contains("&lt;!channel&gt; spread &amp; more"), "{body}");
    }

    #[test]
    fn many_alerts_stay_within_fifty_blocks() {
        let alerts: Vec<_> = (0..120).map(|i| test_alert(&format!("rule-{i}"))).collect();
        let n = Notification { group: "g".into(), severity: alerts[0].severity, alerts, reminder: true };
        let p = payload(&n);
        let blocks = p["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert_eq!(blocks[49]["text"]["text"], "…and 72 more");
        assert!(p["text"].as_str().unwrap().chars().count() <= TEXT_MAX);
        assert!(blocks[0]["text"]["text"].as_str().unwrap().ends_with("(reminder)"));
    }
}
