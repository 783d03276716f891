//! The HTTP-level faults of [`NodeFaults`], decided once per HTTP request (a batch is one
//! request): every Nth request fails with 503, and past the per-second budget requests are
//! refused with 429, as a provider's gateway does before the node sees them.

use super::NodeFaults;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// HTTP 503: the flaky endpoint of `fail_every`.
    Unavailable,
    /// HTTP 429: over `requests_per_second`.
    RateLimited,
}

pub(crate) struct Gate {
    faults: NodeFaults,
    seen: AtomicU64,
    /// (second since start, requests admitted in it): a fixed one-second window.
    window: Mutex<(u64, u32)>,
    started: Instant,
}

impl Gate {
    pub fn new(faults: NodeFaults) -> Gate {
        Gate { faults, seen: AtomicU64::new(0), window: Mutex::new((0, 0)), started: Instant::now() }
    }

    pub fn faults(&self) -> &NodeFaults {
        &self.faults
    }

    /// Whether the next HTTP request gets through.
    pub fn admit(&self) -> Result<(), Refusal> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if self.faults.fail_every.is_some_and(|every| every > 0 && n.is_multiple_of(every.into())) {
            return Err(Refusal::Unavailable);
        }
        if let Some(limit) = self.faults.requests_per_second {
            let second = self.started.elapsed().as_secs();
            let mut window = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if window.0 != second {
                *window = (second, 0);
            }
            if window.1 >= limit {
                return Err(Refusal::RateLimited);
            }
            window.1 += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_request_fails_and_the_budget_refuses_the_rest() {
        let gate = Gate::new(NodeFaults { fail_every: Some(3), ..NodeFaults::default() });
        let got: Vec<bool> = (0..6).map(|_| gate.admit().is_ok()).collect();
        assert_eq!(got, [true, true, false, true, true, false]);
        let gate = Gate::new(NodeFaults { requests_per_second: Some(2), ..NodeFaults::default() });
        let got: Vec<_> = (0..3).map(|_| gate.admit()).collect();
        // A test machine could cross a second boundary mid-way; then all three pass.
        assert!(got == [Ok(()), Ok(()), Err(Refusal::RateLimited)] || got.iter().all(Result::is_ok), "{got:?}");
    }
}
