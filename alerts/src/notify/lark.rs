//! Lark (Feishu) custom bot webhook: POST an interactive card. Lark answers most refusals
//! with HTTP 200 and a JSON `code`, so success is HTTP 200 *and* `code == 0`.
//!
//! With signature verification on, the body also carries `timestamp` (Unix seconds, as a
//! string) and `sign` = base64(HMAC-SHA256 keyed with `timestamp + "\n" + secret` over an
//! empty message), as Lark's custom bot guide specifies. Lark rejects a timestamp more than an
//! hour off, so it is taken at each attempt, not once per notification.

use super::error::{clip, NotifyError};
use super::http::post_json;
use super::render::{any_firing, title, AlertText};
use super::secret::SecretValue;
use super::Notification;
use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};
use std::time::Duration;
use tickwatch_model::AlertSeverity;

/// A card stays readable (and far below Lark's 30 KB request limit) with this many alerts.
const MAX_ALERT_ELEMENTS: usize = 40;

pub(crate) struct LarkChannel {
    webhook_url: SecretValue,
    secret: Option<SecretValue>,
    timeout: Duration,
}

impl LarkChannel {
    pub fn new(webhook_url: SecretValue, secret: Option<SecretValue>, timeout: Duration) -> LarkChannel {
        LarkChannel { webhook_url, secret, timeout }
    }

    pub async fn send(&self, client: &reqwest::Client, n: &Notification) -> Result<(), NotifyError> {
        let mut body = payload(n);
        if let Some(secret) = &self.secret {
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| NotifyError::Message(format!("system clock before 1970: {e}")))?
                .as_secs();
            body["timestamp"] = json!(timestamp.to_string());
            body["sign"] = json!(sign(timestamp, secret.expose()));
        }
        let answer = post_json(client, &self.webhook_url, self.timeout, &body).await?;
        // A JSON code, when there is one, says more than the status (Lark also uses it on 4xx).
        let code = serde_json::from_str::<Value>(&answer.body).ok().and_then(|v| {
            // Older bot versions answer `StatusCode`/`StatusMessage` instead of `code`/`msg`.
            let code = v.get("code").or_else(|| v.get("StatusCode"))?.as_i64()?;
            let msg = v.get("msg").or_else(|| v.get("StatusMessage")).and_then(Value::as_str).unwrap_or("");
            Some((code, msg.to_string()))
        });
        match code {
            // 429 and 5xx by their status: retried, a 429 after the wait Lark asks for.
            _ if answer.status == reqwest::StatusCode::TOO_MANY_REQUESTS || answer.status.is_server_error() => {
                Err(answer.into_error())
            }
            Some((code, msg)) if code != 0 => Err(NotifyError::Lark { code, msg: clip(&msg) }),
            Some(_) if answer.status == reqwest::StatusCode::OK => Ok(()),
            None if answer.status == reqwest::StatusCode::OK => {
                Err(NotifyError::Answer(format!("no `code` in Lark's answer: {}", clip(&answer.body))))
            }
            _ => Err(answer.into_error()),
        }
    }
}

/// Lark's webhook signature of `timestamp` (Unix seconds) with the bot's `secret`.
pub fn sign(timestamp: u64, secret: &str) -> String {
    let key = format!("{timestamp}\n{secret}");
    let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The webhook body for `n` (unsigned).
pub fn payload(n: &Notification) -> Value {
    let mut elements: Vec<Value> = n
        .alerts
        .iter()
        .take(MAX_ALERT_ELEMENTS)
        .map(|a| {
            let t = AlertText::of(a);
            let line = format!("**{}** {} **{}** · {}\n{}", t.state, t.severity, t.rule, t.details(), t.summary);
            json!({"tag": "div", "text": {"tag": "lark_md", "content": line}})
        })
        .collect();
    if n.alerts.len() > MAX_ALERT_ELEMENTS {
        let more = format!("…and {} more", n.alerts.len() - MAX_ALERT_ELEMENTS);
        elements.push(json!({"tag": "div", "text": {"tag": "lark_md", "content": more}}));
    }
    json!({
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": true},
            "header": {
                "title": {"tag": "plain_text", "content": title(n)},
                "template": colour(n),
            },
            "elements": elements,
        }
    })
}

/// The card header's colour: by severity while firing, green once resolved.
fn colour(n: &Notification) -> &'static str {
    if !any_firing(n) {
        return "green";
    }
    match n.severity {
        AlertSeverity::P1 => "red",
        AlertSeverity::P2 => "orange",
        AlertSeverity::P3 => "yellow",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_computation() {
        // Python: base64(hmac.new(b"1599360473\ntest-secret", b"", sha256).digest())
        assert_eq!(sign(1_599_360_473, "test-secret"), "wSds2BzzFIIGf/WrhUO+NI1q/9j+FRJd3JNHKAq0NZY=");
    }
}
