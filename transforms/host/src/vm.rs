//! One transform VM: the module runs `_start` on its own thread and never returns; the host
//! hands it a batch each time it calls `read_batch_header`, and that call is also the sign
//! that the previous batch is complete (Redpanda's commit point).

use crate::batch::{InBatch, OutBuffer, OutRecord};
use crate::sr::SchemaLookup;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use wasmtime::{Caller, Config, Engine, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder};

/// How a batch ended.
#[derive(Debug)]
pub enum BatchResult {
    Done(Vec<OutRecord>),
    /// The module trapped (or exited) while processing the record at `offset`.
    Trapped {
        offset: Option<i64>,
        message: String,
    },
}

/// What the VM needs besides the module.
#[derive(Clone)]
pub struct VmConfig {
    pub name: String,
    pub input_topic: String,
    /// Up to 8 output topics; index 0 is the default output.
    pub output_topics: Vec<String>,
    /// User variables (`transform.yaml` `env`).
    pub env: Vec<(String, String)>,
    /// Linear memory limit of the module, bytes.
    pub memory_limit: usize,
    /// How long one record may run before the module traps (Redpanda's per-record limit).
    pub record_time_limit: std::time::Duration,
}

/// Time a module may take before it reads its first record (environment, schema registration).
pub const STARTUP_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The epoch ticks every 10 ms (a finer tick costs a wake-up per tick on a busy core);
/// deadlines are counted in ticks, rounded up.
const TICK: std::time::Duration = std::time::Duration::from_millis(10);

pub(crate) fn ticks(d: std::time::Duration) -> u64 {
    (d.as_millis() as u64).div_ceil(TICK.as_millis() as u64)
}

pub(crate) struct Current {
    pub records: InBatch,
    pub next: usize,
}

/// The store's data: everything the host functions see.
pub struct HostState {
    pub(crate) cfg: VmConfig,
    pub(crate) env: Vec<String>,
    pub(crate) batches: Receiver<InBatch>,
    pub(crate) results: SyncSender<BatchResult>,
    pub(crate) current: Option<Current>,
    pub(crate) outputs: OutBuffer,
    /// Offset of the record the module is working on.
    pub(crate) offset: Option<i64>,
    /// REALTIME clock: the current record's timestamp.
    pub(crate) record_time_ms: i64,
    /// MONOTONIC clock: advances 1 ms per read.
    pub(crate) monotonic_ns: u64,
    pub(crate) limits: StoreLimits,
    pub(crate) registry: Arc<dyn SchemaLookup>,
    pub(crate) memory: Option<Memory>,
    /// When the module took the batch it works on.
    pub(crate) batch_started: Option<std::time::Instant>,
    /// How long the module worked on its last batch, µs (read by [`TransformVm::last_batch_time`]).
    pub(crate) last_batch_micros: Arc<AtomicU64>,
}

/// The module's linear memory (looked up once: export lookups by name are not free).
pub(crate) fn memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<Memory> {
    if let Some(m) = caller.data().memory {
        return Ok(m);
    }
    let m = caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmtime::Error::msg("the module exports no memory"))?;
    caller.data_mut().memory = Some(m);
    Ok(m)
}

pub(crate) fn read_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let mem = memory(caller)?;
    Ok(module_slice(mem.data(&*caller), ptr, len)?.to_vec())
}

/// `len` bytes of the module's memory at `ptr`: a negative length or a range outside the
/// memory is an error (the module traps).
pub(crate) fn module_slice(mem: &[u8], ptr: i32, len: i32) -> wasmtime::Result<&[u8]> {
    let size = usize::try_from(len).map_err(|_| wasmtime::Error::msg(format!("negative length {len}")))?;
    let start = ptr as u32 as usize;
    start.checked_add(size).and_then(|end| mem.get(start..end)).ok_or_else(|| outside_memory(ptr, size))
}

pub(crate) fn outside_memory(ptr: i32, len: usize) -> wasmtime::Error {
    wasmtime::Error::msg(format!("pointer {} + {len} is outside the module's memory", ptr as u32))
}

pub(crate) fn write_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    mem.write(&mut *caller, ptr as u32 as usize, bytes)?;
    Ok(())
}

/// Signals the end of `_start`'s loop: the host closed the VM.
#[derive(Debug)]
pub(crate) struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host closed the transform")
    }
}

impl std::error::Error for Closed {}

/// A running transform.
pub struct TransformVm {
    batches: Option<SyncSender<InBatch>>,
    results: Receiver<BatchResult>,
    thread: Option<std::thread::JoinHandle<()>>,
    last_batch_micros: Arc<AtomicU64>,
    /// A batch was submitted and its result not yet taken.
    pending: bool,
}

/// Compile a module once; share it between VMs.
pub fn compile(wasm: &[u8]) -> wasmtime::Result<(Engine, Module)> {
    let mut config = Config::new();
    // Time limits by epoch interruption: far cheaper than counting fuel on every instruction.
    config.epoch_interruption(true);
    let engine = Engine::new(&config)?;
    let weak = engine.weak();
    std::thread::Builder::new().name("wasm-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(TICK);
        }
    })?;
    let module = Module::new(&engine, wasm)?;
    for export in ["_start", "memory"] {
        if module.get_export(export).is_none() {
            return Err(wasmtime::Error::msg(format!("not a Redpanda transform: it exports no `{export}`")));
        }
    }
    let abi =
        module.imports().any(|i| i.module() == "redpanda_transform" && i.name().starts_with("check_abi_version_"));
    if !abi {
        return Err(wasmtime::Error::msg(
            "not a Redpanda transform: it does not import redpanda_transform.check_abi_version_*",
        ));
    }
    Ok((engine, module))
}

impl TransformVm {
    /// Instantiate and start `_start` on its own thread.
    pub fn start(
        engine: &Engine,
        module: &Module,
        cfg: VmConfig,
        registry: Arc<dyn SchemaLookup>,
    ) -> wasmtime::Result<TransformVm> {
        let (batch_tx, batch_rx) = sync_channel::<InBatch>(0);
        let (result_tx, result_rx) = sync_channel::<BatchResult>(1);
        let mut env: Vec<String> = cfg.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.push(format!("REDPANDA_INPUT_TOPIC={}", cfg.input_topic));
        for (i, t) in cfg.output_topics.iter().enumerate() {
            env.push(format!("REDPANDA_OUTPUT_TOPIC_{i}={t}"));
        }
        let state = HostState {
            limits: StoreLimitsBuilder::new().memory_size(cfg.memory_limit).instances(1).build(),
            cfg,
            env,
            batches: batch_rx,
            results: result_tx.clone(),
            current: None,
            outputs: OutBuffer::default(),
            offset: None,
            record_time_ms: 0,
            monotonic_ns: 0,
            registry,
            memory: None,
            batch_started: None,
            last_batch_micros: Arc::default(),
        };
        let last_batch_micros = state.last_batch_micros.clone();
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        // Start-up (before the first record) has its own limit, so a tight per-record limit
        // does not starve it.
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks(STARTUP_TIME_LIMIT));
        let mut linker = Linker::new(engine);
        crate::abi::link(&mut linker)?;
        crate::sr::link(&mut linker)?;
        crate::wasi::link(&mut linker, module)?;
        let instance = linker.instantiate(&mut store, module)?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        let thread = std::thread::Builder::new().name("transform-vm".into()).spawn(move || {
            let outcome = start.call(&mut store, ());
            let offset = store.data().offset;
            let message = match outcome {
                Ok(()) => "the transform's _start returned".to_string(),
                Err(e) if e.downcast_ref::<Closed>().is_some() => return,
                Err(e) => format!("{e:?}"),
            };
            let _ = result_tx.send(BatchResult::Trapped { offset, message });
        })?;
        Ok(TransformVm {
            batches: Some(batch_tx),
            results: result_rx,
            thread: Some(thread),
            last_batch_micros,
            pending: false,
        })
    }

    /// Run one batch through the module and wait until it asks for the next one.
    pub fn process(&mut self, batch: impl Into<InBatch>) -> BatchResult {
        self.submit(batch);
        self.wait()
    }

    /// Hand the module a batch (once it has started up) and return; the module works on it
    /// on its own thread while the caller does other work (the runner acknowledges and
    /// commits the batch before). [`TransformVm::wait`] takes the result. One batch at a
    /// time: a second `submit` before `wait` is a bug of the caller's, and panics.
    pub fn submit(&mut self, batch: impl Into<InBatch>) {
        assert!(!self.pending, "a batch is already in the module: wait for it first");
        self.pending = true;
        // A closed VM or one whose thread ended: `wait` reports why.
        if let Some(tx) = &self.batches {
            let _ = tx.send(batch.into());
        }
    }

    /// How long the module worked on the batch [`TransformVm::wait`] returned last (its own
    /// thread's time from taking the batch to asking for the next; the host may have done
    /// other work meanwhile).
    pub fn last_batch_time(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.last_batch_micros.load(Ordering::Relaxed))
    }

    /// The result of the batch submitted last.
    pub fn wait(&mut self) -> BatchResult {
        if !std::mem::take(&mut self.pending) {
            return BatchResult::Trapped { offset: None, message: "no batch was submitted".into() };
        }
        if self.batches.is_none() {
            return BatchResult::Trapped { offset: None, message: "the VM is closed".into() };
        }
        self.results.recv().unwrap_or(BatchResult::Trapped { offset: None, message: "the VM ended".into() })
    }
}

impl Drop for TransformVm {
    fn drop(&mut self) {
        self.batches = None; // the module's next read_batch_header sees the channel closed
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
