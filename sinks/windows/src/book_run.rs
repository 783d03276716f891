//! The order-book window worker: consume `depth` in a consumer group, keep each book per
//! assigned partition, publish its top at the end of each window to `book.<interval>`
//! (key = instrument), and commit, after every output was acknowledged, the offset of the
//! oldest last snapshot of the partition's books (a restart rebuilds every book from there
//! and emits the same windows again). Undecodable records go to `depth.quarantine`.

use crate::run::{framed, now_us, send_all, Produced, WorkerConfig, WorkerError};
use crate::tops::BookTopBuilder;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwatch_model::{AvroRecord, BookTop, BookUpdate, QuarantineRecord};
use tickwatch_runtime::broker::{self, ReliableProducer};
use tickwatch_runtime::decoder::{self, RecordDecoder};
use tickwatch_runtime::hot_book;
use tickwatch_runtime::registry_client::{RegistryClient, RegistryError};
use tickwatch_runtime::settings::BrokerSettings;
use tickwatch_runtime::state::StateStore;

/// Run until `stop` is set. Blocking: call it from a thread of its own.
pub fn run(
    settings: &BrokerSettings,
    registry: &RegistryClient,
    cfg: &WorkerConfig,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<(), WorkerError> {
    let intervals = cfg.windows.parsed_intervals()?;
    let input = format!("{}depth", cfg.prefix);
    let quarantine = format!("{}raw.depth.quarantine", cfg.prefix);
    let (ids, quarantine_id) = runtime.block_on(async {
        let mut ids = HashMap::new();
        for i in &intervals {
            let subject = format!("{}book.{}-value", cfg.prefix, i.name);
            ids.insert(i.name.clone(), registry.register(&subject, BookTop::SCHEMA_JSON).await?);
        }
        let q = registry.register(&format!("{quarantine}-value"), QuarantineRecord::SCHEMA_JSON).await?;
        Ok::<_, RegistryError>((ids, q))
    })?;
    let consumer: BaseConsumer = broker::consumer_config(settings, &cfg.group).create()?;
    consumer.subscribe(&[&input])?;
    let producer = Arc::new(ReliableProducer::new(settings)?);
    let mut updates = RecordDecoder::<BookUpdate>::default();
    let mut builders: HashMap<i32, (BookTopBuilder, i64)> = HashMap::new();
    tracing::info!(input, intervals = ?cfg.windows.intervals, levels = cfg.windows.book_levels, "book window worker running");
    let mut out = Vec::new();
    let mut hot = cfg.hot_books.as_ref().map(|h| StateStore::new(&h.redis_url, &h.prefix));
    let mut hot_failures = 0u64;
    let mut hot_retry_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut produced: Vec<Produced> = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut caught_up = false;
        while Instant::now() < deadline && produced.len() < 5_000 {
            let Some(msg) = consumer.poll(Duration::from_millis(50)) else {
                caught_up = true;
                continue;
            };
            caught_up = false;
            let msg = msg?;
            broker::observe(&consumer, &msg);
            let (partition, offset) = (msg.partition(), msg.offset());
            let payload = msg.payload().unwrap_or_default();
            let entry =
                builders.entry(partition).or_insert_with(|| (BookTopBuilder::new(&cfg.windows).expect("checked"), -1));
            entry.1 = offset;
            match updates.decode(payload, registry, &runtime) {
                Ok(update) => entry.0.on_update(&update, offset, now_us(), &mut out),
                Err(why) => {
                    let q = decoder::quarantined(&msg, "undecodable", "book-windows", why);
                    produced.push((
                        quarantine.clone(),
                        msg.key().unwrap_or_default().to_vec(),
                        framed(quarantine_id, &q),
                    ));
                }
            }
            produced.extend(out.drain(..).map(|t| output(t, &cfg.prefix, &ids)));
        }
        for (builder, _) in builders.values_mut() {
            builder.tick(now_us(), caught_up, &mut out);
        }
        produced.extend(out.drain(..).map(|t| output(t, &cfg.prefix, &ids)));
        send_all(&producer, &runtime, produced)?;
        if let Some(store) = hot.as_mut().filter(|_| Instant::now() >= hot_retry_at) {
            let books: Vec<_> =
                builders.values_mut().flat_map(|(b, _)| b.changed_books(hot_book::LEVELS, now_us() / 1_000)).collect();
            // The books are a cache for the API, never the data path: a Redis failure is
            // logged and counted, Redis is left alone for 30 s (so an unreachable one costs
            // the windows at most its 3 s connect timeout per 30 s), and each book is written
            // again at its next update.
            if let Err(e) = store.put_all_expiring(hot_book::SCHEMA, &books, hot_book::TTL_MS) {
                hot_failures += 1;
                hot_retry_at = Instant::now() + Duration::from_secs(30);
                if hot_failures.is_power_of_two() {
                    tracing::warn!(error = %e, failures = hot_failures, "cannot write the hot order books to Redis");
                }
            }
        }
        let assigned: Vec<i32> = consumer.assignment()?.elements().iter().map(|e| e.partition()).collect();
        builders.retain(|p, _| assigned.contains(p));
        let positions: Vec<(i32, i64)> = builders
            .iter()
            .filter(|(_, (_, last))| *last >= 0)
            .map(|(p, (b, last))| (*p, b.needed_offset().unwrap_or(*last + 1)))
            .collect();
        broker::commit_positions(&consumer, positions.into_iter().map(|(p, o)| (input.as_str(), p, o)));
    }
    Ok(())
}

fn output(top: BookTop, prefix: &str, ids: &HashMap<String, u32>) -> Produced {
    let id = ids[&top.interval];
    (format!("{prefix}book.{}", top.interval), top.instrument.as_bytes().to_vec(), framed(id, &top))
}
