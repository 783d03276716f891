//! What the user writes for the ClickHouse writer (the `clickhouse:` section of
//! `config/sinks.yaml`).

use serde::Deserialize;

/// Which hot table a topic's records go to, by what the topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableKind {
    Trades,
    Reference,
    Klines,
    BookTops,
    Quarantine,
    Alerts,
    Quality,
    Signals,
    Smooth,
    DexSwaps,
}

impl TableKind {
    /// The table for a topic name (without any prefix): `trades`, `reference`, `kline.<i>`,
    /// `book.<i>`, `<stage>.quarantine`, `alerts`, `dq.minute`, `signals`, `price.smooth`,
    /// `dex.swaps`.
    pub fn for_topic(topic: &str) -> Option<TableKind> {
        Some(match topic {
            "trades" => TableKind::Trades,
            "reference" => TableKind::Reference,
            "alerts" => TableKind::Alerts,
            "dq.minute" => TableKind::Quality,
            "signals" => TableKind::Signals,
            "price.smooth" => TableKind::Smooth,
            "dex.swaps" => TableKind::DexSwaps,
            t if t.starts_with("kline.") => TableKind::Klines,
            t if t.starts_with("book.") => TableKind::BookTops,
            t if t.ends_with(".quarantine") => TableKind::Quarantine,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "topic `{0}` has no hot table: write trades, reference, kline.<interval>, book.<interval>, <stage>.quarantine, alerts, dq.minute, signals, price.smooth or dex.swaps"
)]
pub struct UnknownTopic(pub String);

/// The ClickHouse writer's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseSinkConfig {
    /// Topics to write, each to the table for what it carries.
    #[serde(default = "default_topics")]
    pub topics: Vec<String>,
    /// An insert is sent when this many rows are waiting (all tables together); it is also
    /// the most rows held in memory.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// ... or when the oldest waiting row is this old (ms).
    #[serde(default = "default_batch_ms")]
    pub batch_ms: u64,
    /// Longest wait between two attempts while ClickHouse refuses or is down (ms); the wait
    /// doubles from 250 ms up to this.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
}

fn default_topics() -> Vec<String> {
    [
        "trades",
        "reference",
        "kline.1s",
        "kline.5s",
        "kline.1m",
        "book.1s",
        "book.5s",
        "book.1m",
        "raw.trades.quarantine",
        "raw.depth.quarantine",
        "raw.reference.quarantine",
        "raw.dex.quarantine",
        "trades.quarantine",
        "alerts",
        "dq.minute",
        "signals",
        "price.smooth",
        "dex.swaps",
    ]
    .map(String::from)
    .to_vec()
}
fn default_batch_rows() -> usize {
    100_000
}
fn default_batch_ms() -> u64 {
    1_000
}
fn default_retry_max_ms() -> u64 {
    30_000
}

impl Default for ClickHouseSinkConfig {
    fn default() -> Self {
        ClickHouseSinkConfig {
            topics: default_topics(),
            batch_rows: default_batch_rows(),
            batch_ms: default_batch_ms(),
            retry_max_ms: default_retry_max_ms(),
        }
    }
}

impl ClickHouseSinkConfig {
    /// Each configured topic with its table; the first topic without one is an error.
    pub fn routes(&self) -> Result<Vec<(String, TableKind)>, UnknownTopic> {
        self.topics
            .iter()
            .map(|t| TableKind::for_topic(t).map(|k| (t.clone(), k)).ok_or_else(|| UnknownTopic(t.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_find_their_tables() {
        assert_eq!(TableKind::for_topic("kline.15m"), Some(TableKind::Klines));
        assert_eq!(TableKind::for_topic("raw.depth.quarantine"), Some(TableKind::Quarantine));
        assert_eq!(TableKind::for_topic("depth"), None);
        assert_eq!(TableKind::for_topic("dex.swaps"), Some(TableKind::DexSwaps));
        assert_eq!(TableKind::for_topic("raw.dex.quarantine"), Some(TableKind::Quarantine));
        assert!(ClickHouseSinkConfig::default().topics.iter().any(|t| t == "dex.swaps"));
        assert!(ClickHouseSinkConfig::default().routes().is_ok());
        let bad = ClickHouseSinkConfig { topics: vec!["trades".into(), "nope".into()], ..Default::default() };
        assert_eq!(bad.routes(), Err(UnknownTopic("nope".into())));
    }
}
