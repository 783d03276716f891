//! Who is asking and how fast: optional API keys (one tenant each, with its own rate and
//! venues) and a token bucket per key, or per client address without one.

use crate::config::{ApiKeys, Rate};
use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A caller, as the rate limit and the venue check see it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `key:<name>` or `ip:<address>`.
    pub bucket: String,
    pub rate: Rate,
    /// Venues it may read; empty: all.
    pub venues: Vec<String>,
}

impl Caller {
    pub fn may_read(&self, venue: &str) -> Result<(), ApiError> {
        if self.venues.is_empty() || self.venues.iter().any(|v| v == venue) {
            Ok(())
        } else {
            Err(ApiError::VenueForbidden(venue.to_string()))
        }
    }
}

/// Buckets kept before idle ones are forgotten (one per client address or key).
const MAX_BUCKETS: usize = 100_000;

struct KnownKey {
    name: String,
    value: String,
    rate: Rate,
    venues: Vec<String>,
}

pub struct Gate {
    require: bool,
    default_rate: Rate,
    keys: Vec<KnownKey>,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Gate {
    /// Resolve every key's secret now, so a missing variable stops the start with its name.
    pub fn new(keys: &ApiKeys, default_rate: Rate) -> Result<Gate, String> {
        let mut known = Vec::new();
        for k in &keys.keys {
            let value = k.key.resolve().map_err(|e| format!("api_keys: key `{}`: {e}", k.name))?;
            known.push(KnownKey {
                name: k.name.clone(),
                value: value.expose().to_string(),
                rate: k.rate.unwrap_or(default_rate),
                venues: k.venues.clone(),
            });
        }
        Ok(Gate { require: keys.require, default_rate, keys: known, buckets: Mutex::new(HashMap::new()) })
    }

    /// Identify the caller from its key (if any) or address.
    pub fn identify(&self, key: Option<&str>, address: &str) -> Result<Caller, ApiError> {
        match key {
            Some(given) => {
                let k = self.keys.iter().find(|k| constant_time_eq(k.value.as_bytes(), given.as_bytes()));
                let k = k.ok_or(ApiError::UnknownKey)?;
                Ok(Caller { bucket: format!("key:{}", k.name), rate: k.rate, venues: k.venues.clone() })
            }
            None if self.require => Err(ApiError::KeyRequired),
            None => Ok(Caller { bucket: format!("ip:{address}"), rate: self.default_rate, venues: Vec::new() }),
        }
    }

    /// Take one token from the caller's bucket, or say when the next one comes.
    pub fn admit(&self, caller: &Caller) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            // Forget the callers idle long enough to be full again (a new bucket starts full).
            let idle = std::time::Duration::from_secs_f64(caller.rate.burst / caller.rate.per_second);
            buckets.retain(|_, (_, at)| now.duration_since(*at) < idle);
        }
        let (tokens, at) = buckets.entry(caller.bucket.clone()).or_insert((caller.rate.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * caller.rate.per_second).min(caller.rate.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / caller.rate.per_second).ceil().max(1.0) as u64;
            Err(ApiError::RateLimited { per_second: caller.rate.per_second, retry_after_s: wait })
        }
    }
}

/// Compare without stopping at the first differing byte (no timing hint about the key).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKey;
    use tickwatch_alerts::notify::Secret;

    fn gate(require: bool) -> Gate {
        let keys = ApiKeys {
            require,
            keys: vec![ApiKey {
                name: "research".into(),
                key: Secret::from_value("s3cret"),
                rate: Some(Rate { per_second: 1.0, burst: 3.0 }),
                venues: vec!["okx".into()],
            }],
        };
        Gate::new(&keys, Rate { per_second: 1000.0, burst: 1000.0 }).unwrap()
    }

    #[test]
    fn the_bucket_refuses_past_the_burst_and_names_the_wait() {
        let g = gate(false);
        let caller = g.identify(Some("s3cret"), "127.0.0.1").unwrap();
        assert_eq!(caller.bucket, "key:research");
        for _ in 0..3 {
            g.admit(&caller).unwrap();
        }
        let e = g.admit(&caller).unwrap_err();
        assert!(matches!(e, ApiError::RateLimited { retry_after_s: 1, .. }), "{e}");
        // Another client is not affected.
        g.admit(&g.identify(None, "10.0.0.2").unwrap()).unwrap();
    }

    #[test]
    fn keys_are_checked_and_can_be_required() {
        assert!(matches!(gate(false).identify(Some("nope"), "a"), Err(ApiError::UnknownKey)));
        assert!(matches!(gate(true).identify(None, "a"), Err(ApiError::KeyRequired)));
        let c = gate(true).identify(Some("s3cret"), "a").unwrap();
        assert!(c.may_read("okx").is_ok());
        assert!(matches!(c.may_read("binance"), Err(ApiError::VenueForbidden(_))));
    }
}
