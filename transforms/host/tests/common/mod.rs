//! What the VM tests share: the stack's registry behind the schema-registry ABI, compiled
//! modules, and input records.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_testkit::{repo_root, stack, unique};
use tickwatch_transform_host::encoding::Payload;
use tickwatch_transform_host::{compile, InRecord, RegistryLookup, VmConfig};

pub const NOW_MS: i64 = 1_634_036_400_000;

/// A `.wasm` built by `make transforms`, compiled once per test binary (compiling is slow).
pub fn module(name: &str) -> &'static (wasmtime::Engine, wasmtime::Module) {
    static MODULES: OnceLock<Mutex<HashMap<String, &'static (wasmtime::Engine, wasmtime::Module)>>> = OnceLock::new();
    let mut modules = MODULES.get_or_init(Default::default).lock().unwrap();
    modules.entry(name.to_string()).or_insert_with(|| {
        let path = repo_root().join(format!("target/wasm32-wasip1/wasm/{name}.wasm"));
        let wasm = std::fs::read(&path)
            .unwrap_or_else(|_| panic!("{} is missing: run `make transforms` first", path.display()));
        Box::leak(Box::new(compile(&wasm).unwrap()))
    })
}

pub struct Setup {
    pub runtime: tokio::runtime::Runtime,
    pub lookup: Arc<RegistryLookup>,
    /// Id of the raw schema, registered under `<prefix>.<input>-value`.
    pub raw_id: u32,
    pub prefix: String,
}

/// Register `raw_schema` for a fresh input topic `<prefix>.<input>` on the stack's registry.
pub fn setup(input: &str, raw_schema: &str) -> Setup {
    let stack = stack();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let client = RegistryClient::new(&stack.settings.registry.url);
    let prefix = unique("vm");
    let raw_id = runtime.block_on(client.register(&format!("{prefix}.{input}-value"), raw_schema)).unwrap();
    let lookup = Arc::new(RegistryLookup { client, runtime: runtime.handle().clone() });
    Setup { runtime, lookup, raw_id, prefix }
}

pub fn config(name: &str, input: &str, outputs: &[&str], prefix: &str) -> VmConfig {
    VmConfig {
        name: name.into(),
        input_topic: format!("{prefix}.{input}"),
        output_topics: outputs.iter().map(|o| format!("{prefix}.{o}")).collect(),
        env: vec![],
        memory_limit: 32 << 20,
        record_time_limit: std::time::Duration::from_secs(1),
    }
}

pub fn record(input: &str, key: &[u8], offset: i64, value: Vec<u8>) -> InRecord {
    let payload = Payload {
        key: Some(key.to_vec()),
        value: Some(value),
        headers: vec![
            (b"tickwatch-source".to_vec(), Some(format!("{input}/0/{offset}").into_bytes())),
            (b"traceparent".to_vec(), Some(b"00-abc-def-01".to_vec())),
        ],
    };
    InRecord::new(&payload, NOW_MS, offset)
}
