//! Reconnect delays: exponential from `initial` to `max`, each randomised by ± `jitter` so
//! that many connections dropped at once do not come back at the same instant.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: f64,
    attempt: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, jitter: f64) -> Backoff {
        Backoff { initial, max, jitter: jitter.clamp(0.0, 0.99), attempt: 0, rng: fastrand::Rng::new() }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.initial.saturating_mul(1u32 << self.attempt.min(20)).min(self.max);
        self.attempt += 1;
        let factor = 1.0 + self.jitter * (2.0 * self.rng.f64() - 1.0);
        base.mul_f64(factor)
    }

    /// A connection worked: start from `initial` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_within_the_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 0.2);
        let delays: Vec<_> = (0..8).map(|_| b.next_delay().as_secs_f64()).collect();
        for (i, d) in delays.iter().enumerate() {
            let base = (0.1 * 2f64.powi(i as i32)).min(1.0);
            assert!(*d >= base * 0.8 - 1e-9 && *d <= base * 1.2 + 1e-9, "attempt {i}: {d} vs {base}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(120));
    }
}
