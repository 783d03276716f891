//! Runs a Redpanda data transform (`.wasm`) outside Redpanda, on wasmtime: the
//! `redpanda_transform` and `redpanda_schema_registry` ABIs and Redpanda's WASI subset
//! (`../../shared/REDPANDA-TRANSFORM-ABI.md` has them in full), so the very same module
//! deployed with `rpk transform deploy` runs here against any Kafka-API broker.

pub mod abi;
pub mod batch;
pub mod encoding;
pub mod runner;
pub mod sr;
pub mod stats;
pub mod vm;
pub mod wasi;

pub use batch::{InBatch, InRecord, OutRecord};
pub use sr::SchemaLookup;
pub use vm::{compile, BatchResult, TransformVm, VmConfig};

use tickwatch_runtime::registry_client::RegistryClient;

/// [`SchemaLookup`] over a Confluent-compatible registry. The VM thread is not async, so
/// each call blocks on the runtime that owns the client.
pub struct RegistryLookup {
    pub client: RegistryClient,
    pub runtime: tokio::runtime::Handle,
}

impl RegistryLookup {
    /// The id of the latest schema of `subject` (panics if there is none: for tests and tools).
    pub fn schema_id_of(&self, subject: &str) -> u32 {
        self.runtime.block_on(self.client.latest(subject)).expect("subject exists").id
    }
}

impl SchemaLookup for RegistryLookup {
    fn schema_by_id(&self, id: i32) -> Result<String, String> {
        let id = u32::try_from(id).map_err(|_| format!("schema id {id} is negative"))?;
        self.runtime.block_on(self.client.schema_text(id)).map_err(|e| e.to_string())
    }

    fn subject_schema(&self, subject: &str, version: i32) -> Result<(i32, i32, String), String> {
        let v = self.runtime.block_on(self.client.version(subject, version)).map_err(|e| e.to_string())?;
        Ok((v.id as i32, v.version, v.schema))
    }

    fn create(&self, subject: &str, schema: &str) -> Result<i32, String> {
        self.runtime.block_on(self.client.register(subject, schema)).map(|id| id as i32).map_err(|e| e.to_string())
    }
}
