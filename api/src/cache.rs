//! Answers kept for a short time (`cache.hot_ttl`, `cache.history_ttl`): the same question
//! asked again within the TTL is answered from memory, so a dashboard refreshing every second
//! or a burst of identical queries costs ClickHouse or Redis one query.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl_ms: i64, max_entries: usize) -> TtlCache<V> {
        TtlCache {
            ttl: Duration::from_millis(ttl_ms.max(0) as u64),
            max_entries: max_entries.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.max_entries {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.max_entries {
                // Still full of live answers: drop the oldest tenth.
                let mut ages: Vec<(Instant, String)> = entries.iter().map(|(k, (at, _))| (*at, k.clone())).collect();
                ages.sort();
                for (_, k) in ages.into_iter().take(self.max_entries / 10 + 1) {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(key, (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_is_bounded() {
        let c = TtlCache::new(60_000, 20);
        for i in 0..100 {
            c.put(format!("k{i}"), i);
        }
        assert!(c.entries.lock().unwrap().len() <= 20);
        assert_eq!(c.get("k99"), Some(99));
        let short = TtlCache::new(1, 10);
        short.put("a".into(), 1);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(short.get("a"), None);
    }
}
