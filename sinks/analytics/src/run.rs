//! The worker: one consumer group over the clean topics; spreads, divergence, EMA crossovers
//! and data-quality figures go to `signals`, PriceSmooth ticks to `price.smooth`. After every
//! batch: outputs acknowledged, then PriceSmooth and EMA state saved to Redis, then offsets
//! committed. A restart resumes from the saved state; the records read again after it are
//! recognised by event time (ticks and bars not newer than the state are not redone).

use crate::config::{AnalyticsConfig, Durations, PriceSource};
use crate::ema::{self, EmaSeries};
use crate::prices::{to_f64, Divergence, Reading, Spreads};
use crate::quality::{Quality, QualityReading};
use crate::smooth::{self, Smooth, SmoothParams, Tick};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwatch_model::{
    AvroRecord, BookTop, Kline, QualityMinute, QuarantineRecord, ReferencePrice, Signal, SmoothPrice, Trade,
};
use tickwatch_runtime::broker::{self, ReliableProducer};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::decoder::RecordDecoder;
use tickwatch_runtime::produce::{framed, now_us, send_all, Produced};
use tickwatch_runtime::registry_client::{RegistryClient, RegistryError};
use tickwatch_runtime::settings::Settings;
use tickwatch_runtime::state::{StateError, StateStore};

pub const QUARANTINE_TOPICS: &[&str] = &[
    "raw.trades.quarantine",
    "raw.depth.quarantine",
    "raw.reference.quarantine",
    "raw.dex.quarantine",
    "trades.quarantine",
];

pub use tickwatch_runtime::stage::StageError as AnalyticsError;

/// Where the worker reads and writes.
#[derive(Debug, Clone)]
pub struct AnalyticsWorker {
    /// Prepended to every topic and subject (side-by-side runs, tests).
    pub prefix: String,
    pub group: String,
    pub config: AnalyticsConfig,
    pub durations: Durations,
}

/// Decoders and per-kind state of one worker.
struct Work {
    cfg: AnalyticsWorker,
    params: SmoothParams,
    spreads: Spreads,
    divergence: Divergence,
    quality: Quality,
    smooth: HashMap<String, Smooth>,
    ema: HashMap<String, Option<EmaSeries>>,
    dirty: HashSet<String>,
    signals: Vec<Signal>,
    ticks: Vec<(String, Tick)>,
    undecodable: u64,
}

fn topic<'a>(prefix: &str, full: &'a str) -> &'a str {
    full.strip_prefix(prefix).unwrap_or(full)
}

/// Run until `stop` is set. Blocking: call it from a thread of its own.
pub fn run(
    settings: &Settings,
    registry: &RegistryClient,
    cfg: &AnalyticsWorker,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<(), AnalyticsError> {
    let p = &cfg.prefix;
    let (signal_id, smooth_id) = runtime.block_on(async {
        let s = registry.register(&format!("{p}signals-value"), Signal::SCHEMA_JSON).await?;
        let m = registry.register(&format!("{p}price.smooth-value"), SmoothPrice::SCHEMA_JSON).await?;
        Ok::<_, RegistryError>((s, m))
    })?;
    let mut inputs: Vec<String> = ["trades", "reference", "dq.minute"].iter().map(|t| format!("{p}{t}")).collect();
    inputs.extend(cfg.config.ema.intervals.iter().map(|i| format!("{p}kline.{i}")));
    inputs.extend(QUARANTINE_TOPICS.iter().map(|t| format!("{p}{t}")));
    if cfg.config.spread.source == PriceSource::Mid {
        inputs.push(format!("{p}book.1s"));
    }
    let consumer: BaseConsumer = broker::consumer_config(&settings.broker, &cfg.group).create()?;
    consumer.subscribe(&inputs.iter().map(String::as_str).collect::<Vec<_>>())?;
    let producer = Arc::new(ReliableProducer::new(&settings.broker)?);
    let mut state = StateStore::new(&settings.redis.url, &cfg.config.state_prefix);
    let d = cfg.durations;
    let mut work = Work {
        cfg: cfg.clone(),
        params: SmoothParams {
            tick_us: d.smooth_tick,
            ramp_us: d.smooth_ramp,
            max_age_us: d.smooth_max_age,
            jump_bps: cfg.config.smooth.jump_bps,
        },
        spreads: Spreads::new(d.spread_every, d.spread_max_age),
        divergence: Divergence::new(d.divergence_every, d.divergence_max_age),
        quality: Quality::new(d.activity_window, cfg.config.quality.activity_min_minutes),
        smooth: HashMap::new(),
        ema: HashMap::new(),
        dirty: HashSet::new(),
        signals: Vec::new(),
        ticks: Vec::new(),
        undecodable: 0,
    };
    load_activity(settings, &runtime, &mut work.quality, d.activity_window);
    let mut decoders = Decoders::default();
    tracing::info!(inputs = ?inputs, group = %cfg.group, "analytics worker running");
    while !stop.load(Ordering::Relaxed) {
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut read: BTreeMap<(String, i32), i64> = BTreeMap::new();
        while read.len() < 5_000 && Instant::now() < deadline {
            let Some(msg) = broker::poll_message(&consumer, Duration::from_millis(50), "analytics")? else { continue };
            read.insert((msg.topic().to_string(), msg.partition()), msg.offset());
            let name = topic(p, msg.topic()).to_string();
            work.on_message(&name, &msg, &mut decoders, registry, &runtime, &mut state)?;
        }
        let mut q = Vec::new();
        work.quality.close_minutes(now_us(), d.quarantine_grace, &mut q);
        work.signals.extend(q.into_iter().map(quality_signal));
        let produced = work.outputs(signal_id, smooth_id);
        send_all(&producer, &runtime, produced)?;
        work.save(&mut state)?;
        broker::commit_positions(&consumer, read.iter().map(|((t, part), o)| (t.as_str(), *part, o + 1)));
    }
    Ok(())
}

#[derive(Default)]
struct Decoders {
    trades: RecordDecoder<Trade>,
    reference: RecordDecoder<ReferencePrice>,
    klines: RecordDecoder<Kline>,
    tops: RecordDecoder<BookTop>,
    minutes: RecordDecoder<QualityMinute>,
    quarantine: RecordDecoder<QuarantineRecord>,
}

fn quality_signal(r: QualityReading) -> Signal {
    Signal {
        kind: r.kind.into(),
        venue: r.venue,
        venue_b: None,
        instrument: r.instrument,
        channel: r.channel,
        interval: None,
        value: r.value,
        unit: r.unit.into(),
        at_us: r.at_us,
        emitted_at_us: now_us(),
    }
}

fn reading_signal(kind: &str, r: Reading) -> Signal {
    Signal {
        kind: kind.into(),
        venue: r.venue,
        venue_b: r.venue_b,
        instrument: r.instrument,
        channel: None,
        interval: None,
        value: r.value,
        unit: "bps".into(),
        at_us: r.at_us,
        emitted_at_us: now_us(),
    }
}

impl Work {
    fn on_message(
        &mut self,
        topic: &str,
        msg: &BorrowedMessage<'_>,
        dec: &mut Decoders,
        registry: &RegistryClient,
        runtime: &tokio::runtime::Handle,
        state: &mut StateStore,
    ) -> Result<(), AnalyticsError> {
        let payload = msg.payload().unwrap_or_default();
        let undecodable = |why: String, n: &mut u64| {
            // The ClickHouse writer keeps such a record in the quarantine table; here it is
            // counted and named once per record.
            *n += 1;
            tracing::warn!(topic, partition = msg.partition(), offset = msg.offset(), error = %why, skipped = *n, "analytics: record skipped, cannot be decoded");
        };
        let mut readings = Vec::new();
        match topic {
            "trades" => match dec.trades.decode(payload, registry, runtime) {
                Ok(t) => self.on_trade(&t, state, &mut readings)?,
                Err(e) => undecodable(e, &mut self.undecodable),
            },
            "book.1s" => match dec.tops.decode(payload, registry, runtime) {
                Ok(b) => {
                    if let (Some(bid), Some(ask)) = (b.bid_price, b.ask_price) {
                        let mid = bid.checked_add(ask).map(|s| tickwatch_model::Decimal::from_units(s.units() / 2));
                        if let (Some(mid), true) = (mid, self.spread_wanted(&b.instrument)) {
                            self.spreads.on_price(&b.instrument, &b.venue, mid, b.window_end_us, &mut readings);
                        }
                    }
                }
                Err(e) => undecodable(e, &mut self.undecodable),
            },
            "reference" => match dec.reference.decode(payload, registry, runtime) {
                Ok(r) => {
                    let mut out = Vec::new();
                    let (v, i) = (&r.venue, &r.instrument);
                    self.divergence.on_reference(v, i, r.mark_price, r.index_price, r.event_time_us, &mut out);
                    self.signals.extend(out.into_iter().map(|r| reading_signal("divergence", r)));
                }
                Err(e) => undecodable(e, &mut self.undecodable),
            },
            "dq.minute" => match dec.minutes.decode(payload, registry, runtime) {
                Ok(m) => {
                    let mut out = Vec::new();
                    self.quality.on_minute(&m, &mut out);
                    self.signals.extend(out.into_iter().map(quality_signal));
                }
                Err(e) => undecodable(e, &mut self.undecodable),
            },
            t if t.starts_with("kline.") => match dec.klines.decode(payload, registry, runtime) {
                Ok(k) => self.on_bar(&k, state)?,
                Err(e) => undecodable(e, &mut self.undecodable),
            },
            t if QUARANTINE_TOPICS.contains(&t) => match dec.quarantine.decode(payload, registry, runtime) {
                Ok(q) => self.quality.on_quarantined(&q),
                Err(e) => undecodable(e, &mut self.undecodable),
            },
            _ => {}
        }
        self.signals.extend(readings.into_iter().map(|r| reading_signal("spread", r)));
        Ok(())
    }

    fn spread_wanted(&self, instrument: &str) -> bool {
        let list = &self.cfg.config.spread.instruments;
        list.is_empty() || list.iter().any(|i| i == instrument)
    }

    fn on_trade(
        &mut self,
        t: &Trade,
        state: &mut StateStore,
        readings: &mut Vec<Reading>,
    ) -> Result<(), AnalyticsError> {
        if self.cfg.config.spread.source == PriceSource::Trade && self.spread_wanted(&t.instrument) {
            self.spreads.on_price(&t.instrument, &t.venue, t.price, t.event_time_us, readings);
        }
        let list = &self.cfg.config.smooth.instruments;
        if !list.is_empty() && !list.contains(&t.instrument) {
            return Ok(());
        }
        let key = format!("smooth:{}", t.instrument);
        if !self.smooth.contains_key(&t.instrument) {
            let saved = state.get::<Smooth>(&key, smooth::STATE_SCHEMA)?;
            self.smooth.insert(t.instrument.clone(), saved.unwrap_or_default());
        }
        let s = self.smooth.get_mut(&t.instrument).expect("just loaded");
        let mut ticks = Vec::new();
        s.on_trade(&self.params, &t.venue, t.price, t.event_time_us, &mut ticks);
        self.ticks.extend(ticks.into_iter().map(|k| (t.instrument.clone(), k)));
        self.dirty.insert(key);
        Ok(())
    }

    fn on_bar(&mut self, k: &Kline, state: &mut StateStore) -> Result<(), AnalyticsError> {
        let key = format!("ema:{}/{}/{}", k.venue, k.instrument, k.interval);
        if !self.ema.contains_key(&key) {
            let saved = state.get::<EmaSeries>(&key, ema::STATE_SCHEMA)?;
            self.ema.insert(key.clone(), saved);
        }
        let series = self.ema.get_mut(&key).expect("just loaded");
        let (fast, slow) = (self.cfg.config.ema.fast, self.cfg.config.ema.slow);
        let close = to_f64(k.close);
        if let Some(cross) = EmaSeries::on_bar(series, k.open_time_us, k.version, close, fast, slow) {
            self.signals.push(Signal {
                kind: "ema_cross".into(),
                venue: k.venue.clone(),
                venue_b: None,
                instrument: k.instrument.clone(),
                channel: None,
                interval: Some(k.interval.clone()),
                value: cross.direction as f64,
                unit: "sign".into(),
                at_us: k.close_time_us,
                emitted_at_us: now_us(),
            });
        }
        self.dirty.insert(key);
        Ok(())
    }

    fn outputs(&mut self, signal_id: u32, smooth_id: u32) -> Vec<Produced> {
        let p = &self.cfg.prefix;
        let mut out: Vec<Produced> = self
            .signals
            .drain(..)
            .map(|s| (format!("{p}signals"), s.instrument.as_bytes().to_vec(), framed(signal_id, &s)))
            .collect();
        for (instrument, t) in self.ticks.drain(..) {
            let rec = SmoothPrice {
                instrument: instrument.clone(),
                tick_us: t.tick_us,
                price: t.price,
                target: t.target,
                state: t.state,
                ramp_end_us: t.ramp_end_us,
                sources: t.sources,
                version: t.version,
                emitted_at_us: now_us(),
            };
            out.push((format!("{p}price.smooth"), instrument.into_bytes(), framed(smooth_id, &rec)));
        }
        out
    }

    /// Write every changed PriceSmooth and EMA state in one transaction each.
    fn save(&mut self, state: &mut StateStore) -> Result<(), StateError> {
        let mut smooth_values = Vec::new();
        let mut ema_values = Vec::new();
        for key in self.dirty.drain() {
            if let Some(instrument) = key.strip_prefix("smooth:") {
                smooth_values.push((key.clone(), self.smooth[instrument].clone()));
            } else if let Some(Some(series)) = self.ema.get(&key) {
                ema_values.push((key, series.clone()));
            }
        }
        state.put_all(smooth::STATE_SCHEMA, &smooth_values)?;
        state.put_all(ema::STATE_SCHEMA, &ema_values)
    }
}

/// The activity history from ClickHouse (hourly sums), so that the 7-day mean is there from
/// the first minute; without ClickHouse the worker starts with none and says so.
fn load_activity(settings: &Settings, runtime: &tokio::runtime::Handle, quality: &mut Quality, window_us: i64) {
    let ch = ClickHouse::new(&settings.clickhouse);
    let sql = format!(
        "SELECT venue, instrument, channel, toUnixTimestamp(toStartOfHour(minute)) * 1000000 AS hour, \
         count() AS minutes, sum(messages) AS s, sum(messages * messages) AS ss, \
         toUnixTimestamp64Micro(max(minute)) AS newest \
         FROM data_quality_minute FINAL WHERE minute >= now64(6) - toIntervalSecond({}) \
         GROUP BY venue, instrument, channel, hour ORDER BY hour",
        window_us / 1_000_000
    );
    match runtime.block_on(ch.query_rows(&sql)) {
        Ok(rows) => {
            let n = rows.len();
            for r in rows {
                let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                let num = |k: &str| r[k].as_f64().or_else(|| r[k].as_str().and_then(|s| s.parse().ok())).unwrap_or(0.0);
                let key = (text("venue"), text("instrument"), text("channel"));
                let a = quality.activity.entry(key).or_default();
                a.add_hour(num("hour") as i64, num("minutes"), num("s"), num("ss"));
                a.newest_minute_us = a.newest_minute_us.max(num("newest") as i64);
            }
            tracing::info!(hours = n, "analytics: activity history loaded from ClickHouse");
        }
        Err(e) => {
            tracing::warn!(error = %e, "analytics: no activity history (ClickHouse unreachable); activity signals start once enough minutes were seen")
        }
    }
}
