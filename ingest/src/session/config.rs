//! One venue's connection settings, resolved from `config/exchanges.yaml` and
//! `config/symbols.yaml`: venue symbols instead of canonical ids, durations instead of text.

use crate::silence::SilenceSettings;
use std::time::Duration;
use tickwatch_runtime::config_error::parse_duration_ms;
use tickwatch_runtime::venues::{Symbols, VenueConfig};

#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub venue: String,
    pub ws_url: String,
    pub rest_url: String,
    /// (venue symbol, canonical instrument).
    pub instruments: Vec<(String, String)>,
    pub channels: Vec<String>,
    pub snapshot_depth: u32,
    pub max_streams_per_connection: usize,
    pub subscribe_per_second: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub jitter: f64,
    pub rotate_after: Duration,
    /// No data frame for this long, socket open: reconnect.
    pub stall_after: Duration,
    /// How often each book is compared with a REST snapshot.
    pub snapshot_check_period: Duration,
    /// When one stream counts as silent (reported on `signals`).
    pub silence: SilenceSettings,
}

fn duration(text: &str) -> Duration {
    Duration::from_millis(parse_duration_ms(text).expect("validated with exchanges.yaml") as u64)
}

impl ConnectorConfig {
    /// `venue`'s settings; an instrument without a symbol on the venue is an error naming it.
    pub fn resolve(venue: &str, v: &VenueConfig, symbols: &Symbols) -> Result<ConnectorConfig, String> {
        let instruments = v
            .instruments
            .iter()
            .map(|inst| {
                symbols
                    .aliases
                    .iter()
                    .find(|a| a.venue == venue && a.instrument == *inst)
                    .map(|a| (a.symbol.clone(), inst.clone()))
                    .ok_or_else(|| format!("venues.{venue}.instruments: {inst} has no {venue} symbol in symbols.yaml"))
            })
            .collect::<Result<_, _>>()?;
        Ok(ConnectorConfig {
            venue: venue.into(),
            ws_url: v.ws_url.clone(),
            rest_url: v.rest_url.trim_end_matches('/').to_string(),
            instruments,
            channels: v.channels.clone(),
            snapshot_depth: v.snapshot_depth,
            max_streams_per_connection: v.max_streams_per_connection as usize,
            subscribe_per_second: v.subscribe_per_second,
            initial_backoff: duration(&v.reconnect.initial_backoff),
            max_backoff: duration(&v.reconnect.max_backoff),
            jitter: v.reconnect.jitter,
            rotate_after: duration(&v.rotate_after),
            stall_after: duration(&v.stall_after),
            snapshot_check_period: duration(&v.snapshot_check_period),
            silence: SilenceSettings {
                enabled: v.silence.enabled,
                factor: v.silence.factor,
                min: duration(&v.silence.min),
                min_samples: v.silence.min_samples,
                repeat: duration(&v.silence.repeat),
            },
        })
    }

    /// Settings for reading frames without connecting (replays, benchmarks, tests): the
    /// venue symbols stand for themselves, every channel, the sample file's timings.
    pub fn offline(venue: &str, symbols: &[String]) -> ConnectorConfig {
        let s = Duration::from_secs;
        ConnectorConfig {
            venue: venue.into(),
            ws_url: format!("ws://127.0.0.1/{venue}"),
            rest_url: String::new(),
            instruments: symbols.iter().map(|s| (s.clone(), s.clone())).collect(),
            channels: ["trades", "depth", "mark_price", "index_price", "funding"].map(String::from).to_vec(),
            snapshot_depth: 500,
            max_streams_per_connection: 1000,
            subscribe_per_second: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: s(30),
            jitter: 0.2,
            rotate_after: s(23 * 3600),
            stall_after: s(60),
            snapshot_check_period: s(300),
            silence: SilenceSettings::default(),
        }
    }

    pub fn canonical<'a>(&'a self, symbol: &'a str) -> &'a str {
        self.instruments.iter().find(|(s, _)| s == symbol).map_or(symbol, |(_, c)| c.as_str())
    }
}
