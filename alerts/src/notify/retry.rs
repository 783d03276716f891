//! One channel's attempts at one notification: try, and on a retryable failure wait
//! (exponential backoff, or the server's `Retry-After`) and try again, up to `attempts`.
//! Each failed attempt is one warn line; giving up is one error line. Neither carries a URL
//! or a credential (see [`NotifyError`]).

use super::config::{ChannelName, RetryConfig};
use super::error::NotifyError;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counts per channel, for metrics.
#[derive(Debug, Default)]
pub struct ChannelStats {
    sent: AtomicU64,
    failed: AtomicU64,
    attempts: AtomicU64,
}

/// A copy of [`ChannelStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Notifications delivered.
    pub sent: u64,
    /// Notifications given up on.
    pub failed: u64,
    /// Requests made (delivered, failed and retried alike).
    pub attempts: u64,
}

impl ChannelStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            attempts: self.attempts.load(Ordering::Relaxed),
        }
    }
}

/// The settings in the form the loop uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl From<&RetryConfig> for RetryPolicy {
    fn from(c: &RetryConfig) -> RetryPolicy {
        RetryPolicy {
            attempts: c.attempts.max(1),
            initial_backoff: c.initial_backoff.get(),
            max_backoff: c.max_backoff.get(),
        }
    }
}

/// Run `attempt` until it succeeds, fails for good, or `policy.attempts` are used up.
/// `group` names the notification in the log lines.
pub(crate) async fn with_retries<F, Fut>(
    channel: ChannelName,
    group: &str,
    policy: RetryPolicy,
    stats: &ChannelStats,
    mut attempt: F,
) -> Result<(), NotifyError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), NotifyError>>,
{
    let mut backoff = policy.initial_backoff;
    let mut tried = 0;
    loop {
        tried += 1;
        stats.attempts.fetch_add(1, Ordering::Relaxed);
        let err = match attempt().await {
            Ok(()) => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Err(err) => err,
        };
        if !err.is_retryable() || tried >= policy.attempts {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            let why = if err.is_retryable() { "no attempts left" } else { "not retryable" };
            tracing::error!(%channel, group, attempts = tried, error = %err, "notification not delivered ({why})");
            return Err(NotifyError::GaveUp { attempts: tried, last: Box::new(err) });
        }
        // The server's wait wins over ours: retrying sooner only earns another 429.
        let wait = err.retry_after().unwrap_or(backoff);
        tracing::warn!(
            %channel,
            group,
            attempt = tried,
            of = policy.attempts,
            retry_in_ms = wait.as_millis() as u64,
            error = %err,
            "notification attempt failed"
        );
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(policy.max_backoff);
    }
}
