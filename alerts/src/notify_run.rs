//! `tickwatch alerts notify`: consume `alerts`, decide what to tell whom (`dispatch`), and send
//! it on every configured channel at once (`notify::Channels`). Silences are re-read from
//! Redis every second. After each batch the dispatcher's memory is saved to Redis before the
//! offsets are committed; messages are sent in the background, so a failing channel delays
//! neither the others nor the next batch.

use crate::dispatch::{Dispatcher, STATE_SCHEMA};
use crate::engine_run::{AlertsError, AlertsWorker};
use crate::notify::{ChannelName, Channels};
use crate::silences::{Silence, Silences};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwatch_model::Alert;
use tickwatch_runtime::broker;
use tickwatch_runtime::decoder::RecordDecoder;
use tickwatch_runtime::produce::now_us;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::settings::Settings;
use tickwatch_runtime::state::StateStore;

fn channel_names(names: &[String]) -> Vec<ChannelName> {
    ChannelName::ALL.into_iter().filter(|c| names.iter().any(|n| *n == c.to_string())).collect()
}

pub fn run(
    settings: &Settings,
    registry: &RegistryClient,
    cfg: &AlertsWorker,
    rules_path: &Path,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<(), AlertsError> {
    let input = format!("{}alerts", cfg.prefix);
    let notifiers = cfg.rules.notifiers.clone().unwrap_or_default();
    let channels = Arc::new(Channels::from_config(&notifiers, rules_path)?);
    let consumer: BaseConsumer = broker::consumer_config(&settings.broker, &cfg.group).create()?;
    consumer.subscribe(&[&input])?;
    let mut store = StateStore::new(&settings.redis.url, &cfg.state_prefix);
    let mut silences_store = Silences::new(&settings.redis.url, &cfg.state_prefix);
    let key = format!("notify:{}", cfg.group);
    let mut dispatcher: Dispatcher = store.get(&key, STATE_SCHEMA)?.unwrap_or_default();
    let timing = cfg.rules.timing();
    let mut alerts = RecordDecoder::<Alert>::default();
    let mut silences: Vec<Silence> = Vec::new();
    let mut silences_read = Instant::now() - Duration::from_secs(60);
    let mut sending = tokio::task::JoinSet::new();
    tracing::info!(input, channels = ?channels.configured(), "notifier running");
    while !stop.load(Ordering::Relaxed) {
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut read: BTreeMap<i32, i64> = BTreeMap::new();
        while read.len() < 1_000 && Instant::now() < deadline {
            let Some(msg) = broker::poll_message(&consumer, Duration::from_millis(50), "notifier")? else { continue };
            read.insert(msg.partition(), msg.offset());
            match alerts.decode(msg.payload().unwrap_or_default(), registry, &runtime) {
                Ok(a) => dispatcher.on_alert(&cfg.rules, a, now_us()),
                Err(e) => {
                    tracing::warn!(offset = msg.offset(), error = %e, "notifier: alert cannot be decoded; skipped")
                }
            }
        }
        if silences_read.elapsed() >= Duration::from_secs(1) {
            match silences_store.list() {
                Ok(s) => silences = s,
                Err(e) => tracing::warn!(error = %e, "notifier: silences cannot be read; using the last ones known"),
            }
            silences_read = Instant::now();
        }
        for out in dispatcher.due(timing, &silences, now_us()) {
            // A rule's channels that are not configured are left out (default: all channels).
            let configured = channels.configured();
            let only: Vec<ChannelName> =
                channel_names(&out.channels).into_iter().filter(|c| configured.contains(c)).collect();
            if only.is_empty() {
                continue;
            }
            let channels = channels.clone();
            tracing::info!(group = %out.notification.group, alerts = out.notification.alerts.len(), channels = ?only, "notifying");
            sending.spawn_on(
                async move {
                    for (name, result) in channels.deliver(&out.notification, &only).await {
                        if let Err(e) = result {
                            tracing::error!(channel = %name, group = %out.notification.group, error = %e, "notification not delivered");
                        }
                    }
                },
                &runtime,
            );
        }
        while sending.try_join_next().is_some() {}
        store.put(&key, STATE_SCHEMA, &dispatcher)?;
        broker::commit_positions(&consumer, read.iter().map(|(p, o)| (input.as_str(), *p, o + 1)));
    }
    // Let messages in flight finish (each channel gives up on its own retry budget).
    runtime.block_on(async { while sending.join_next().await.is_some() {} });
    Ok(())
}
