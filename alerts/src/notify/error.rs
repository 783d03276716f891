//! Why a notification did not go out, and whether trying again can help.
//!
//! No variant holds a webhook URL or a credential: transport errors are turned into text with
//! the URL taken out first (reqwest puts it in its messages), so any of these can be logged.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The webhook answered with a status other than success.
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String, retry_after: Option<Duration> },
    /// Lark answered (usually with HTTP 200) but refused the message.
    #[error("Lark refused the message: code {code}: {msg}")]
    Lark { code: i64, msg: String },
    /// The request did not complete (connection refused, timeout, TLS).
    #[error("request failed: {0}")]
    Request(String),
    /// The answer could not be understood.
    #[error("unexpected answer: {0}")]
    Answer(String),
    /// The SMTP exchange failed; `permanent` when the server said 5xx.
    #[error("SMTP: {message}")]
    Smtp { message: String, permanent: bool },
    /// The notification could not be turned into the channel's message.
    #[error("cannot build the message: {0}")]
    Message(String),
    /// The rule asked for a channel that `notifiers:` does not configure.
    #[error("not configured under notifiers:")]
    NotConfigured,
    /// Every attempt failed, or one failed in a way retrying cannot fix; `last` says how.
    #[error("gave up after {attempts} attempt(s): {last}")]
    GaveUp { attempts: u32, last: Box<NotifyError> },
}

/// Lark's code for "sending too often" (its bots take about 5 a second, 100 a minute).
const LARK_RATE_LIMITED: i64 = 11232;

impl NotifyError {
    /// Whether the same message may succeed later: network trouble, timeouts, 5xx, 408,
    /// 429 and Lark's rate limit do; a rejected payload, a wrong URL or credentials do not.
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            NotifyError::Lark { code, .. } => *code == LARK_RATE_LIMITED,
            NotifyError::Request(_) | NotifyError::Answer(_) => true,
            NotifyError::Smtp { permanent, .. } => !permanent,
            NotifyError::Message(_) | NotifyError::NotConfigured | NotifyError::GaveUp { .. } => false,
        }
    }

    /// How long the server asked us to wait before the next try (429 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            NotifyError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A transport error as text, without the URL, with its causes ("connection refused").
    pub(crate) fn request(err: reqwest::Error) -> NotifyError {
        let err = err.without_url();
        let mut text = if err.is_timeout() { "timed out".to_string() } else { err.to_string() };
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            let part = c.to_string();
            if !text.contains(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
            cause = c.source();
        }
        NotifyError::Request(text)
    }
}

/// At most this much of an error body goes into the error (they can be whole HTML pages).
const BODY_LIMIT: usize = 300;

pub(crate) fn clip(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(BODY_LIMIT) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_string(),
    }
}
