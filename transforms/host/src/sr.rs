//! The `redpanda_schema_registry` imports, over any Confluent-compatible registry.

use crate::encoding::{decode_schema_def, encode_schema_def, encode_subject_schema};
use crate::vm::{read_bytes, write_bytes, HostState};
use wasmtime::{Caller, Linker};

const REGISTRY_ERROR: i32 = -2;

/// What the module may ask of the registry. Implemented over tickwatch's registry client.
pub trait SchemaLookup: Send + Sync {
    fn schema_by_id(&self, id: i32) -> Result<String, String>;
    /// (id, version, schema text); `version == -1` is the latest.
    fn subject_schema(&self, subject: &str, version: i32) -> Result<(i32, i32, String), String>;
    /// Register (idempotently) and return the id.
    fn create(&self, subject: &str, schema: &str) -> Result<i32, String>;
}

fn log_failure(what: &str, e: &str) -> i32 {
    tracing::warn!(error = e, "schema registry call from the transform failed: {what}");
    REGISTRY_ERROR
}

fn subject(c: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<Option<String>> {
    Ok(String::from_utf8(read_bytes(c, ptr, len)?).ok())
}

fn schema_def_of(c: &Caller<'_, HostState>, id: i32) -> Result<Vec<u8>, i32> {
    c.data().registry.schema_by_id(id).map(|text| encode_schema_def(&text)).map_err(|e| log_failure("schema by id", &e))
}

fn subject_schema_of(c: &Caller<'_, HostState>, subject: &str, version: i32) -> Result<Vec<u8>, i32> {
    c.data()
        .registry
        .subject_schema(subject, version)
        .map(|(id, v, text)| encode_subject_schema(id as i64, v as i64, &text))
        .map_err(|e| log_failure("subject schema", &e))
}

/// Copy `bytes` into the module's buffer if it fits; the count written, or an error code.
fn copy_out(c: &mut Caller<'_, HostState>, bytes: &[u8], buf: i32, len: i32) -> wasmtime::Result<i32> {
    if bytes.len() > len.max(0) as usize {
        return Ok(REGISTRY_ERROR);
    }
    write_bytes(c, buf, bytes)?;
    Ok(bytes.len() as i32)
}

pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap("redpanda_schema_registry", "check_abi_version_0", || {})?;
    linker.func_wrap(
        "redpanda_schema_registry",
        "get_schema_definition_len",
        |mut c: Caller<'_, HostState>, id: i32, len_out: i32| match schema_def_of(&c, id) {
            Ok(def) => {
                write_bytes(&mut c, len_out, &(def.len() as i32).to_le_bytes())?;
                Ok(0)
            }
            Err(code) => Ok(code),
        },
    )?;
    linker.func_wrap(
        "redpanda_schema_registry",
        "get_schema_definition",
        |mut c: Caller<'_, HostState>, id: i32, buf: i32, len: i32| match schema_def_of(&c, id) {
            Ok(def) => copy_out(&mut c, &def, buf, len),
            Err(code) => Ok(code),
        },
    )?;
    linker.func_wrap(
        "redpanda_schema_registry",
        "get_subject_schema_len",
        |mut c: Caller<'_, HostState>, sp: i32, sl: i32, version: i32, len_out: i32| {
            let Some(s) = subject(&mut c, sp, sl)? else { return Ok(REGISTRY_ERROR) };
            match subject_schema_of(&c, &s, version) {
                Ok(b) => {
                    write_bytes(&mut c, len_out, &(b.len() as i32).to_le_bytes())?;
                    Ok(0)
                }
                Err(code) => Ok(code),
            }
        },
    )?;
    linker.func_wrap(
        "redpanda_schema_registry",
        "get_subject_schema",
        |mut c: Caller<'_, HostState>, sp: i32, sl: i32, version: i32, buf: i32, len: i32| {
            let Some(s) = subject(&mut c, sp, sl)? else { return Ok(REGISTRY_ERROR) };
            match subject_schema_of(&c, &s, version) {
                Ok(b) => copy_out(&mut c, &b, buf, len),
                Err(code) => Ok(code),
            }
        },
    )?;
    linker.func_wrap(
        "redpanda_schema_registry",
        "create_subject_schema",
        |mut c: Caller<'_, HostState>, sp: i32, sl: i32, def: i32, def_len: i32, id_out: i32| {
            let Some(s) = subject(&mut c, sp, sl)? else { return Ok(REGISTRY_ERROR) };
            let def = read_bytes(&mut c, def, def_len)?;
            let text = match decode_schema_def(&def) {
                Ok(t) => t,
                Err(e) => return Ok(log_failure("create schema", e)),
            };
            match c.data().registry.create(&s, &text) {
                Ok(id) => {
                    write_bytes(&mut c, id_out, &id.to_le_bytes())?;
                    Ok(0)
                }
                Err(e) => Ok(log_failure("create schema", &e)),
            }
        },
    )?;
    Ok(())
}
