//! One JSON POST to a webhook, shared by Slack and Lark: the answer's status, body and the
//! wait a 429 asks for. What counts as success is each channel's business.

use super::error::NotifyError;
use super::secret::SecretValue;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// Longest `Retry-After` honoured; a server asking for more is waited for this long, so a
/// confused proxy cannot park a channel for hours.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

pub(crate) struct Answer {
    pub status: reqwest::StatusCode,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// POST `payload` to `url` with its own `timeout` (the shared client's is only a ceiling).
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &SecretValue,
    timeout: Duration,
    payload: &serde_json::Value,
) -> Result<Answer, NotifyError> {
    let response =
        client.post(url.expose()).timeout(timeout).json(payload).send().await.map_err(NotifyError::request)?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = response.text().await.map_err(NotifyError::request)?;
    Ok(Answer { status, retry_after, body })
}

/// `Retry-After: <seconds>` (Slack's and Lark's form); Lark's gateway may instead send
/// `x-ogw-ratelimit-reset: <seconds>`. An HTTP-date is not used by either and is ignored
/// (the usual backoff applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    let secs = seconds(RETRY_AFTER.as_str()).or_else(|| seconds("x-ogw-ratelimit-reset"))?;
    Some(Duration::from_secs(secs).min(RETRY_AFTER_CAP))
}

impl Answer {
    /// The answer as an error (any status that is not the channel's success).
    pub fn into_error(self) -> NotifyError {
        NotifyError::Status {
            status: self.status.as_u16(),
            body: super::error::clip(&self.body),
            retry_after: self.retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&h), Some(RETRY_AFTER_CAP));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
        h.insert("x-ogw-ratelimit-reset", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
    }
}
