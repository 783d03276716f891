//! Staying inside a venue's REST limits: requests are spaced evenly at a set rate, and a
//! limit answer (Binance 429 or 418, OKX 429 or code 50011, Bybit 403 or retCode 10006) is
//! waited out for as long as the venue asks (`Retry-After`, Bybit's reset timestamp) or, where
//! it does not say, as long as its documentation does.

use super::HistoryVenue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limit answers waited out for one page before giving up.
pub const MAX_WAITS: u32 = 20;

/// Bybit: "403, access too frequent" means an IP ban; its documentation says to wait at
/// least 10 minutes.
const BYBIT_BAN_WAIT: Duration = Duration::from_secs(600);
/// Binance without a Retry-After: its weights are counted per minute.
const BINANCE_DEFAULT_WAIT: Duration = Duration::from_secs(60);
/// OKX counts requests per 2 seconds.
const OKX_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitAnswer {
    /// Not a limit answer: read it.
    Go,
    /// A limit answer: wait this long, then ask again.
    Wait(Duration),
}

/// What an answer means for the pace. `header` reads a response header by name.
pub fn classify(venue: HistoryVenue, status: u16, header: &dyn Fn(&str) -> Option<String>, body: &str) -> LimitAnswer {
    let retry_after = || header("retry-after").and_then(|s| s.trim().parse::<u64>().ok()).map(Duration::from_secs);
    match venue {
        HistoryVenue::Binance { .. } if status == 429 || status == 418 => {
            LimitAnswer::Wait(retry_after().unwrap_or(BINANCE_DEFAULT_WAIT))
        }
        HistoryVenue::Okx if status == 429 || body.contains(r#""code":"50011""#) => {
            LimitAnswer::Wait(retry_after().unwrap_or(OKX_WAIT))
        }
        HistoryVenue::Bybit if status == 403 => LimitAnswer::Wait(retry_after().unwrap_or(BYBIT_BAN_WAIT)),
        HistoryVenue::Bybit if body.contains(r#""retCode":10006"#) => {
            let reset = header("x-bapi-limit-reset-timestamp").and_then(|s| s.trim().parse::<i64>().ok());
            let now = tickwatch_runtime::produce::now_us() / 1000;
            let wait = reset.map_or(1_000, |r| (r - now).clamp(100, 60_000));
            LimitAnswer::Wait(Duration::from_millis(wait as u64))
        }
        _ => LimitAnswer::Go,
    }
}

/// Spaces requests `1 / rate` apart and holds every request back while a limit is waited out.
pub struct Pacer {
    spacing: Duration,
    next: Mutex<Instant>,
    limited: AtomicU64,
}

impl Pacer {
    pub fn new(rate: f64) -> Pacer {
        let spacing = if rate > 0.0 { Duration::from_secs_f64(1.0 / rate) } else { Duration::ZERO };
        Pacer { spacing, next: Mutex::new(Instant::now()), limited: AtomicU64::new(0) }
    }

    /// Limit answers met so far.
    pub fn limited(&self) -> u64 {
        self.limited.load(Ordering::Relaxed)
    }

    /// Wait for this request's slot.
    pub async fn ready(&self) {
        let at = {
            let mut next = self.next.lock().expect("pacer lock");
            let at = (*next).max(Instant::now());
            *next = at + self.spacing;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }

    /// A limit answer came: nothing is sent for `wait`.
    pub async fn hold(&self, wait: Duration, venue: HistoryVenue, status: u16) {
        self.limited.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            ?venue,
            status,
            wait_ms = wait.as_millis() as u64,
            "rate-limited by the venue; waiting as it asks"
        );
        {
            let mut next = self.next.lock().expect("pacer lock");
            *next = (*next).max(Instant::now() + wait);
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn each_venues_limit_answer_is_waited_out_as_it_says() {
        let binance = HistoryVenue::Binance { usdm: false };
        let none = headers(&[]);
        assert_eq!(classify(binance, 200, &none, "[]"), LimitAnswer::Go);
        assert_eq!(
            classify(binance, 429, &headers(&[("retry-after", "7")]), ""),
            LimitAnswer::Wait(Duration::from_secs(7))
        );
        assert_eq!(classify(binance, 418, &none, ""), LimitAnswer::Wait(BINANCE_DEFAULT_WAIT));
        assert_eq!(classify(binance, 500, &none, ""), LimitAnswer::Go, "other errors are errors, not waits");
        assert_eq!(classify(HistoryVenue::Okx, 429, &none, ""), LimitAnswer::Wait(OKX_WAIT));
        let okx_body = r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#;
        assert_eq!(classify(HistoryVenue::Okx, 200, &none, okx_body), LimitAnswer::Wait(OKX_WAIT));
        assert_eq!(classify(HistoryVenue::Bybit, 403, &none, "access too frequent"), LimitAnswer::Wait(BYBIT_BAN_WAIT));
        let visits = r#"{"retCode":10006,"retMsg":"Too many visits!"}"#;
        assert_eq!(classify(HistoryVenue::Bybit, 200, &none, visits), LimitAnswer::Wait(Duration::from_secs(1)));
        assert_eq!(classify(HistoryVenue::Bybit, 429, &none, ""), LimitAnswer::Go);
    }

    #[tokio::test]
    async fn requests_are_spaced_at_the_rate() {
        let pacer = Pacer::new(50.0);
        let start = Instant::now();
        for _ in 0..6 {
            pacer.ready().await;
        }
        // Five gaps of 20 ms at least: a lower bound the scheduler cannot undercut.
        assert!(start.elapsed() >= Duration::from_millis(100), "{:?}", start.elapsed());
    }
}
