//! [`StreamMap`]: state per stream (instrument and channel) that is looked up for every
//! message. A map keyed by `(String, &str)` needs an owned key for each lookup, which made the
//! counters of the data-quality minutes, the silence detector and the metrics allocate and
//! free a few strings per message; here an instrument's key is made once, when it is first
//! seen, and every later lookup borrows.

use std::collections::BTreeMap;

/// `map[key]`, made by `make` the first time: the key is allocated only then, not for every
/// lookup as `entry(key.to_string())` would.
pub fn slot<'m, V>(map: &'m mut BTreeMap<String, V>, key: &str, make: impl FnOnce() -> V) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), make());
    }
    map.get_mut(key).expect("inserted above")
}

/// Values per instrument, then per channel; iterated in `(instrument, channel)` order.
#[derive(Debug, Clone)]
pub struct StreamMap<V> {
    /// An instrument's few channels, kept sorted.
    by_instrument: BTreeMap<String, Vec<(&'static str, V)>>,
}

impl<V> Default for StreamMap<V> {
    fn default() -> Self {
        StreamMap { by_instrument: BTreeMap::new() }
    }
}

impl<V> StreamMap<V> {
    pub fn get(&self, instrument: &str, channel: &str) -> Option<&V> {
        let channels = self.by_instrument.get(instrument)?;
        channels.iter().find(|(c, _)| *c == channel).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, instrument: &str, channel: &str) -> Option<&mut V> {
        let channels = self.by_instrument.get_mut(instrument)?;
        channels.iter_mut().find(|(c, _)| *c == channel).map(|(_, v)| v)
    }

    /// The stream's value, made by `make` if the stream is new.
    pub fn get_or_insert_with(&mut self, instrument: &str, channel: &'static str, make: impl FnOnce() -> V) -> &mut V {
        let channels = slot(&mut self.by_instrument, instrument, Vec::new);
        let at = match channels.binary_search_by(|(c, _)| (*c).cmp(channel)) {
            Ok(at) => at,
            Err(at) => {
                channels.insert(at, (channel, make()));
                at
            }
        };
        &mut channels[at].1
    }

    /// Set the stream's value; returns the one it replaces.
    pub fn insert(&mut self, instrument: &str, channel: &'static str, value: V) -> Option<V> {
        let mut value = Some(value);
        let slot = self.get_or_insert_with(instrument, channel, || value.take().expect("taken once"));
        value.map(|v| std::mem::replace(slot, v))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &'static str, &V)> {
        self.by_instrument.iter().flat_map(|(i, channels)| channels.iter().map(move |(c, v)| (i.as_str(), *c, v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &'static str, &mut V)> {
        self.by_instrument
            .iter_mut()
            .flat_map(|(i, channels)| channels.iter_mut().map(move |(c, v)| (i.as_str(), *c, v)))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.by_instrument.values_mut().flat_map(|channels| channels.iter_mut().map(|(_, v)| v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_kept_apart_and_iterated_in_order() {
        let mut m = StreamMap::default();
        *m.get_or_insert_with("ETH-USDT", "trades", || 0) += 1;
        *m.get_or_insert_with("BTC-USDT", "trades", || 0) += 2;
        *m.get_or_insert_with("BTC-USDT", "depth", || 0) += 3;
        *m.get_or_insert_with("BTC-USDT", "trades", || 100) += 4;
        assert_eq!(m.insert("ETH-USDT", "trades", 9), Some(1));
        assert_eq!(m.insert("ETH-USDT", "depth", 7), None);
        assert_eq!(m.get("BTC-USDT", "trades"), Some(&6), "made once, then found");
        assert_eq!(m.get("BTC-USDT", "mark"), None);
        assert_eq!(m.get("SOL-USDT", "trades"), None);
        let all: Vec<_> = m.iter().map(|(i, c, v)| (i.to_string(), c, *v)).collect();
        let expected =
            [("BTC-USDT", "depth", 3), ("BTC-USDT", "trades", 6), ("ETH-USDT", "depth", 7), ("ETH-USDT", "trades", 9)];
        assert_eq!(all, expected.map(|(i, c, v)| (i.to_string(), c, v)));
        m.values_mut().for_each(|v| *v = 0);
        *m.get_mut("ETH-USDT", "depth").unwrap() = 1;
        assert_eq!(m.iter_mut().map(|(_, _, v)| *v).sum::<i32>(), 1);
    }
}
