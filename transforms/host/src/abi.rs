//! The `redpanda_transform` imports, as Redpanda's broker implements them.

use crate::encoding::Cursor;
use crate::vm::{
    memory, module_slice, outside_memory, read_bytes, write_bytes, BatchResult, Closed, Current, HostState,
};
use wasmtime::{AsContextMut, Caller, Linker};

const NO_BATCH: i32 = -1;
const BUFFER_TOO_SMALL: i32 = -2;
const INVALID_PAYLOAD: i32 = -2;
const NOT_AN_OUTPUT: i32 = -3;

pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    for version in ["check_abi_version_1", "check_abi_version_2"] {
        linker.func_wrap("redpanda_transform", version, || {})?;
    }
    linker.func_wrap("redpanda_transform", "read_batch_header", read_batch_header)?;
    linker.func_wrap("redpanda_transform", "read_next_record", read_next_record)?;
    linker.func_wrap("redpanda_transform", "write_record", |mut c: Caller<'_, HostState>, buf: i32, len: i32| {
        write(&mut c, buf, len, &[])
    })?;
    linker.func_wrap(
        "redpanda_transform",
        "write_record_with_options",
        |mut c: Caller<'_, HostState>, buf: i32, len: i32, opts: i32, opts_len: i32| {
            let options = read_bytes(&mut c, opts, opts_len)?;
            write(&mut c, buf, len, &options)
        },
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn read_batch_header(
    mut c: Caller<'_, HostState>,
    base_offset: i32,
    record_count: i32,
    leader_epoch: i32,
    attributes: i32,
    last_offset_delta: i32,
    base_timestamp: i32,
    max_timestamp: i32,
    producer_id: i32,
    producer_epoch: i32,
    base_sequence: i32,
) -> wasmtime::Result<i32> {
    // Asking for the next batch means the previous one is done: hand back its outputs.
    if c.data_mut().current.take().is_some() {
        let outputs = c.data_mut().outputs.take();
        c.data_mut().offset = None;
        if let Some(started) = c.data_mut().batch_started.take() {
            c.data()
                .last_batch_micros
                .store(started.elapsed().as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if c.data().results.send(BatchResult::Done(outputs)).is_err() {
            return Err(wasmtime::Error::new(Closed));
        }
    }
    let records = c.data().batches.recv().map_err(|_| wasmtime::Error::new(Closed))?;
    let (first, last) = records.offsets().unwrap_or((0, 0));
    let base_ts = records.get(0).map_or(0, |r| r.timestamp_ms);
    let max_ts = records.iter().map(|r| r.timestamp_ms).max().unwrap_or(0);
    let largest = records.iter().map(|r| r.bytes.len()).max().unwrap_or(0);
    let count = records.len() as i32;
    c.data_mut().current = Some(Current { records, next: 0 });
    c.data_mut().batch_started = Some(std::time::Instant::now());
    // Waiting for a batch is not the module's time.
    c.as_context_mut().set_epoch_deadline(crate::vm::ticks(crate::vm::STARTUP_TIME_LIMIT));
    write_bytes(&mut c, base_offset, &first.to_le_bytes())?;
    write_bytes(&mut c, record_count, &count.to_le_bytes())?;
    write_bytes(&mut c, leader_epoch, &0i32.to_le_bytes())?;
    write_bytes(&mut c, attributes, &0i16.to_le_bytes())?;
    write_bytes(&mut c, last_offset_delta, &((last - first) as i32).to_le_bytes())?;
    write_bytes(&mut c, base_timestamp, &base_ts.to_le_bytes())?;
    write_bytes(&mut c, max_timestamp, &max_ts.to_le_bytes())?;
    write_bytes(&mut c, producer_id, &(-1i64).to_le_bytes())?;
    write_bytes(&mut c, producer_epoch, &(-1i16).to_le_bytes())?;
    write_bytes(&mut c, base_sequence, &(-1i32).to_le_bytes())?;
    Ok(largest as i32)
}

fn read_next_record(
    mut c: Caller<'_, HostState>,
    attributes: i32,
    timestamp: i32,
    offset: i32,
    buf: i32,
    len: i32,
) -> wasmtime::Result<i32> {
    let mem = memory(&mut c)?;
    // Memory and host state together: the payload goes straight into the module, no copy.
    let (bytes_out, state) = mem.data_and_store_mut(&mut c);
    let Some(cur) = state.current.as_mut() else { return Ok(NO_BATCH) };
    let Some(record) = cur.records.get(cur.next) else { return Ok(NO_BATCH) };
    let payload = record.bytes;
    if payload.len() > len.max(0) as usize {
        return Ok(BUFFER_TOO_SMALL);
    }
    put(bytes_out, buf, payload)?;
    put(bytes_out, attributes, &[0u8])?;
    put(bytes_out, timestamp, &record.timestamp_ms.to_le_bytes())?;
    put(bytes_out, offset, &record.offset.to_le_bytes())?;
    let (ts, off, n) = (record.timestamp_ms, record.offset, payload.len());
    cur.next += 1;
    state.offset = Some(off);
    state.record_time_ms = ts;
    let limit = crate::vm::ticks(state.cfg.record_time_limit);
    // Each record gets its own deadline: a record that loops forever traps on its own offset.
    c.as_context_mut().set_epoch_deadline(limit);
    Ok(n as i32)
}

/// Bounds-checked copy into the module's memory.
fn put(mem: &mut [u8], ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let start = ptr as u32 as usize;
    let dst = start
        .checked_add(bytes.len())
        .and_then(|end| mem.get_mut(start..end))
        .ok_or_else(|| outside_memory(ptr, bytes.len()))?;
    dst.copy_from_slice(bytes);
    Ok(())
}

fn write(c: &mut Caller<'_, HostState>, buf: i32, len: i32, options: &[u8]) -> wasmtime::Result<i32> {
    if c.data().current.is_none() {
        return Ok(NO_BATCH);
    }
    let output = if options.is_empty() {
        0
    } else {
        let mut cur = Cursor(options);
        let topic = match (cur.0.first(), cur.0.get(1..)) {
            (Some(1), Some(rest)) => {
                cur.0 = rest;
                cur.sized().flatten()
            }
            _ => None,
        };
        let Some(topic) = topic.filter(|_| cur.0.is_empty()) else { return Ok(INVALID_PAYLOAD) };
        let Some(i) = c.data().cfg.output_topics.iter().position(|t| t.as_bytes() == topic) else {
            return Ok(NOT_AN_OUTPUT);
        };
        i
    };
    let mem = memory(c)?;
    // Straight from the module's memory into the batch's output buffer.
    let (module_bytes, state) = mem.data_and_store_mut(c);
    let record = module_slice(module_bytes, buf, len)?;
    if !state.outputs.push(output, record) {
        return Ok(INVALID_PAYLOAD);
    }
    Ok(len)
}
