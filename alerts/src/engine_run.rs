//! `tickwatch alerts engine`: consume `signals`, run the rules, publish state changes to
//! `alerts` (key = fingerprint; the ClickHouse writer puts them in the alerts table). After
//! each batch: alerts acknowledged, then the engine's state saved to Redis, then offsets
//! committed. One engine per consumer group: its state is one Redis key per group.

use crate::engine::{Engine, EngineState, STATE_SCHEMA};
use crate::rules::AlertsFile;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwatch_model::{Alert, AvroRecord, Signal};
use tickwatch_runtime::broker::{self, ReliableProducer};
use tickwatch_runtime::decoder::RecordDecoder;
use tickwatch_runtime::produce::{framed, send_all};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::settings::Settings;
use tickwatch_runtime::state::StateStore;

pub use tickwatch_runtime::stage::StageError as AlertsError;

/// Where a worker reads and writes.
#[derive(Debug, Clone)]
pub struct AlertsWorker {
    /// Prepended to every topic and subject (side-by-side runs, tests).
    pub prefix: String,
    pub group: String,
    pub rules: AlertsFile,
    /// Prefix of the Redis keys (state, silences).
    pub state_prefix: String,
}

pub fn run(
    settings: &Settings,
    registry: &RegistryClient,
    cfg: &AlertsWorker,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<(), AlertsError> {
    let (input, output) = (format!("{}signals", cfg.prefix), format!("{}alerts", cfg.prefix));
    let alert_id = runtime.block_on(registry.register(&format!("{output}-value"), Alert::SCHEMA_JSON))?;
    let consumer: BaseConsumer = broker::consumer_config(&settings.broker, &cfg.group).create()?;
    consumer.subscribe(&[&input])?;
    let producer = Arc::new(ReliableProducer::new(&settings.broker)?);
    let mut store = StateStore::new(&settings.redis.url, &cfg.state_prefix);
    let key = format!("engine:{}", cfg.group);
    let saved: Option<EngineState> = store.get(&key, STATE_SCHEMA)?;
    let mut engine = Engine::new(&cfg.rules, saved.unwrap_or_default());
    let mut signals = RecordDecoder::<Signal>::default();
    let mut skipped = 0u64;
    tracing::info!(
        input,
        output,
        rules = cfg.rules.rules.len(),
        firing = engine.firing().len(),
        "alert engine running"
    );
    while !stop.load(Ordering::Relaxed) {
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut read: BTreeMap<i32, i64> = BTreeMap::new();
        let mut alerts = Vec::new();
        while read.len() < 5_000 && Instant::now() < deadline {
            let Some(msg) = broker::poll_message(&consumer, Duration::from_millis(50), "alert engine")? else {
                continue;
            };
            read.insert(msg.partition(), msg.offset());
            match signals.decode(msg.payload().unwrap_or_default(), registry, &runtime) {
                Ok(s) => alerts.extend(engine.on_signal(&s)),
                Err(e) => {
                    skipped += 1;
                    tracing::warn!(partition = msg.partition(), offset = msg.offset(), error = %e, skipped, "alert engine: signal cannot be decoded; skipped");
                }
            }
        }
        if read.is_empty() {
            continue;
        }
        for a in &alerts {
            tracing::info!(fingerprint = %a.fingerprint, state = ?a.state, severity = ?a.severity, "{}", a.summary);
        }
        let produced =
            alerts.iter().map(|a| (output.clone(), a.fingerprint.as_bytes().to_vec(), framed(alert_id, a))).collect();
        send_all(&producer, &runtime, produced)?;
        store.put(&key, STATE_SCHEMA, &engine.state)?;
        broker::commit_positions(&consumer, read.iter().map(|(p, o)| (input.as_str(), *p, o + 1)));
    }
    Ok(())
}
