//! The WASI preview-1 subset Redpanda gives transforms: arguments and environment, stdout and
//! stderr as log lines, the record's time as the wall clock, constant randomness, and ENOSYS
//! for everything else (no files, no sockets).

use crate::vm::{read_bytes, write_bytes, HostState};
use wasmtime::{Caller, ExternType, Linker, Module, Val};

const WASI: &str = "wasi_snapshot_preview1";
const SUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EINVAL: i32 = 28;
const ENOSYS: i32 = 52;

const IMPLEMENTED: &[&str] = &[
    "args_sizes_get",
    "args_get",
    "environ_sizes_get",
    "environ_get",
    "fd_write",
    "clock_time_get",
    "clock_res_get",
    "random_get",
    "poll_oneoff",
    "proc_exit",
    "sched_yield",
    "fd_prestat_get",
];

/// `proc_exit` ends the VM with this.
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the transform called proc_exit({})", self.0)
    }
}

impl std::error::Error for Exit {}

/// Write a list of NUL-terminated strings and the pointer table to them.
fn put_strings(c: &mut Caller<'_, HostState>, items: &[String], ptrs: i32, buf: i32) -> wasmtime::Result<i32> {
    let mut at = buf;
    for (i, s) in items.iter().enumerate() {
        write_bytes(c, ptrs + 4 * i as i32, &at.to_le_bytes())?;
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        write_bytes(c, at, &bytes)?;
        at += bytes.len() as i32;
    }
    Ok(SUCCESS)
}

fn put_sizes(c: &mut Caller<'_, HostState>, items: &[String], count: i32, size: i32) -> wasmtime::Result<i32> {
    let total: usize = items.iter().map(|s| s.len() + 1).sum();
    write_bytes(c, count, &(items.len() as u32).to_le_bytes())?;
    write_bytes(c, size, &(total as u32).to_le_bytes())?;
    Ok(SUCCESS)
}

pub(crate) fn link(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    linker.func_wrap(WASI, "args_sizes_get", |mut c: Caller<'_, HostState>, count: i32, size: i32| {
        let args = vec![c.data().cfg.name.clone()];
        put_sizes(&mut c, &args, count, size)
    })?;
    linker.func_wrap(WASI, "args_get", |mut c: Caller<'_, HostState>, ptrs: i32, buf: i32| {
        let args = vec![c.data().cfg.name.clone()];
        put_strings(&mut c, &args, ptrs, buf)
    })?;
    linker.func_wrap(WASI, "environ_sizes_get", |mut c: Caller<'_, HostState>, count: i32, size: i32| {
        let env = c.data().env.clone();
        put_sizes(&mut c, &env, count, size)
    })?;
    linker.func_wrap(WASI, "environ_get", |mut c: Caller<'_, HostState>, ptrs: i32, buf: i32| {
        let env = c.data().env.clone();
        put_strings(&mut c, &env, ptrs, buf)
    })?;
    linker.func_wrap(WASI, "fd_write", |mut c: Caller<'_, HostState>, fd: i32, iovs: i32, n: i32, written: i32| {
        if fd != 1 && fd != 2 {
            return Ok(EBADF);
        }
        let table = read_bytes(&mut c, iovs, n.saturating_mul(8))?;
        let mut text = Vec::new();
        for iov in table.chunks_exact(8) {
            let ptr = i32::from_le_bytes(iov[0..4].try_into().expect("4 bytes"));
            let len = i32::from_le_bytes(iov[4..8].try_into().expect("4 bytes"));
            text.extend(read_bytes(&mut c, ptr, len)?);
        }
        write_bytes(&mut c, written, &(text.len() as u32).to_le_bytes())?;
        // Like Redpanda: each call is one log event, truncated to 1 KiB.
        let line = String::from_utf8_lossy(&text[..text.len().min(1024)]).trim_end().to_string();
        let name = c.data().cfg.name.clone();
        if fd == 1 {
            tracing::info!(transform = %name, "{line}");
        } else {
            tracing::warn!(transform = %name, "{line}");
        }
        Ok(SUCCESS)
    })?;
    linker.func_wrap(WASI, "clock_time_get", |mut c: Caller<'_, HostState>, id: i32, _precision: i64, out: i32| {
        let ns: u64 = match id {
            0 => (c.data().record_time_ms.max(0) as u64).saturating_mul(1_000_000),
            1..=3 => {
                c.data_mut().monotonic_ns += 1_000_000;
                c.data().monotonic_ns
            }
            _ => return Ok(EINVAL),
        };
        write_bytes(&mut c, out, &ns.to_le_bytes())?;
        Ok(SUCCESS)
    })?;
    linker.func_wrap(WASI, "clock_res_get", |mut c: Caller<'_, HostState>, id: i32, out: i32| {
        if !(0..=3).contains(&id) {
            return Ok(EINVAL);
        }
        write_bytes(&mut c, out, &1_000_000u64.to_le_bytes())?;
        Ok(SUCCESS)
    })?;
    linker.func_wrap(WASI, "random_get", |mut c: Caller<'_, HostState>, buf: i32, len: i32| {
        // Redpanda fills with a constant, so seeds (HashMap's too) are the same everywhere.
        write_bytes(&mut c, buf, &vec![9u8; len.max(0) as usize])?;
        Ok(SUCCESS)
    })?;
    linker.func_wrap(
        WASI,
        "poll_oneoff",
        |mut c: Caller<'_, HostState>, subs: i32, events: i32, n: i32, out: i32| {
            // Every subscription fires at once (a sleep does not wait).
            let raw = read_bytes(&mut c, subs, n.saturating_mul(48))?;
            for (i, sub) in raw.chunks_exact(48).enumerate() {
                let mut event = [0u8; 32];
                event[0..8].copy_from_slice(&sub[0..8]); // userdata
                event[10] = sub[8]; // event type = subscription tag
                write_bytes(&mut c, events + 32 * i as i32, &event)?;
            }
            write_bytes(&mut c, out, &(n as u32).to_le_bytes())?;
            Ok(SUCCESS)
        },
    )?;
    linker
        .func_wrap(WASI, "proc_exit", |code: i32| -> wasmtime::Result<()> { Err(wasmtime::Error::new(Exit(code))) })?;
    linker.func_wrap(WASI, "sched_yield", || SUCCESS)?;
    linker.func_wrap(WASI, "fd_prestat_get", |fd: i32, _out: i32| if fd <= 2 { ENOSYS } else { EBADF })?;
    // Everything else the module imports from WASI answers ENOSYS.
    for import in module.imports().filter(|i| i.module() == WASI && !IMPLEMENTED.contains(&i.name())) {
        if let ExternType::Func(ty) = import.ty() {
            let returns_errno = ty.results().len() == 1;
            linker.func_new(WASI, import.name(), ty, move |_c, _params, results| {
                if returns_errno {
                    results[0] = Val::I32(ENOSYS);
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}
