//! The shell every tickwatch transform shares: read the deployment's environment, register
//! the output schemas, and route each record through `tickwatch-transform-core`.
//!
//! Output topic 0 is the clean topic; output topic 1 the quarantine topic (default
//! `<input>.quarantine`). Routing happens inside the SDK callback, which always returns
//! `Ok`: an error there would kill the VM and Redpanda would retry the same record forever,
//! so every record ends in exactly one of the two outputs instead (or, for a record that is
//! only state for the next one of its key, in that one). Input headers (trace context) are
//! carried to the output.

#[cfg(target_arch = "wasm32")]
mod wasm {
    use redpanda_transform_sdk::{on_record_written, BorrowedRecord, RecordWriter, WriteEvent, WriteOptions};
    use redpanda_transform_sdk_sr::{Schema, SchemaId, SchemaRegistryClient};
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::time::UNIX_EPOCH;
    use tickwatch_model::AvroRecord;
    use tickwatch_transform_core::route::{Input, Normalize, Routed, Router, SOURCE_HEADER};
    use tickwatch_transform_core::{ListingBook, RuleConfig};

    /// A deployment problem: one log line (one `fd_write`, so it arrives whole), then stop.
    fn fatal(message: String) -> ! {
        let line = format!("{message}\n");
        eprint!("{line}");
        std::process::exit(1)
    }

    fn register(sr: &mut SchemaRegistryClient, subject: &str, schema: &str) -> u32 {
        match sr.create_schema(subject, Schema::new_avro(schema.to_string(), vec![])) {
            Ok(s) => s.id().0 as u32,
            Err(e) => fatal(format!("cannot register the schema of {subject}: {e:?}")),
        }
    }

    pub fn run<N: Normalize + 'static>(make: impl FnOnce(ListingBook, RuleConfig) -> N) -> ! {
        let env: HashMap<String, String> = std::env::vars().collect();
        let input = env.get("REDPANDA_INPUT_TOPIC").cloned().unwrap_or_default();
        let Some(clean) = env.get("REDPANDA_OUTPUT_TOPIC_0").or_else(|| env.get("REDPANDA_OUTPUT_TOPIC")).cloned()
        else {
            fatal(
                "no output topic: deploy with the clean topic as output 0 and the quarantine topic as output 1".into(),
            )
        };
        let quarantine = env.get("REDPANDA_OUTPUT_TOPIC_1").cloned().unwrap_or_else(|| format!("{input}.quarantine"));
        let rules = RuleConfig::default()
            .with_overrides(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap_or_else(|e| fatal(format!("bad transform variable: {e}")));
        let mut sr = SchemaRegistryClient::new();
        let clean_id = register(&mut sr, &format!("{clean}-value"), N::Clean::SCHEMA_JSON);
        let quarantine_id =
            register(&mut sr, &format!("{quarantine}-value"), tickwatch_model::QuarantineRecord::SCHEMA_JSON);
        let listings = ListingBook::baked_with_vars(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap_or_else(|e| fatal(format!("bad transform variable: {e}")));
        let router = RefCell::new(Router::new(make(listings, rules), &input, clean_id, quarantine_id));
        on_record_written(move |event: WriteEvent, writer: &mut RecordWriter| {
            let rec = &event.record;
            let source = rec.headers().iter().find(|h| h.key() == SOURCE_HEADER.as_bytes()).and_then(|h| h.value());
            let broker_time_ms = rec.timestamp().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(-1);
            let input = Input { key: rec.key(), value: rec.value(), broker_time_ms, source };
            let mut lookup = |id: u32| {
                sr.lookup_schema_by_id(SchemaId(id as i32))
                    .map(|s| s.schema().to_string())
                    .map_err(|e| format!("{e:?}"))
            };
            let headers: Vec<_> =
                rec.headers().iter().filter(|h| h.key() != SOURCE_HEADER.as_bytes()).cloned().collect();
            match router.borrow_mut().route(&input, &mut lookup) {
                Routed::Clean { key, value } => {
                    writer.write(BorrowedRecord::new_with_headers(Some(&key), Some(&value), headers))
                }
                Routed::Quarantine { key, value, .. } => writer.write_with_options(
                    BorrowedRecord::new_with_headers(key.as_deref(), Some(&value), headers),
                    WriteOptions::to_topic(&quarantine),
                ),
                Routed::Absorbed => Ok(()),
            }
        })
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::run;
