//! A launcher for the ClickHouse engine that chDB ships as `libchdb.so`, for machines where
//! no ClickHouse server package can be had. It loads the library, starts the engine's
//! command line (clickhouse-local) with the HTTP interface listening, and keeps one
//! never-ending query running so the engine stays up. The real ClickHouse HTTP protocol is
//! then served; production points the same settings at a real ClickHouse server.
//!
//! The engine owns the process (it exits when its command line returns), so this runs as
//! its own process, never as a thread of another stage. To stop it: `KILL QUERY` on the
//! keep-alive query (scripts/stack.sh does), or SIGKILL.

use clap::Args;
use std::ffi::{c_char, c_int, c_void, CString};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ChdbArgs {
    /// Path of libchdb.so (from the npm package @chdb/lib-linux-x64-gnu).
    #[arg(long, env = "TICKWATCH_CHDB_LIB")]
    lib: PathBuf,
    /// Data directory (one engine process per directory).
    #[arg(long)]
    path: PathBuf,
    /// HTTP interface port.
    #[arg(long, default_value_t = 8123)]
    http_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    listen_host: String,
}

/// The query that keeps the engine alive: one row per second, for 31 years.
pub const KEEPALIVE_MARKER: &str = "tickwatch_chdb_keepalive";

type QueryCmdline = unsafe extern "C" fn(c_int, *mut *mut c_char) -> *mut c_void;

pub fn run(args: &ChdbArgs) -> ExitCode {
    if !args.lib.is_file() {
        eprintln!(
            "error: --lib {}: no such file; run `make setup` (it unpacks libchdb.so into the cache directory)",
            args.lib.display()
        );
        return ExitCode::from(2);
    }
    if let Err(e) = std::fs::create_dir_all(&args.path) {
        eprintln!("error: --path {}: {e}", args.path.display());
        return ExitCode::from(2);
    }
    let query = format!(
        "SYSTEM START LISTEN HTTP; SELECT sleepEachRow(1) AS {KEEPALIVE_MARKER} FROM numbers(1000000000) \
         SETTINGS max_block_size = 1, function_sleep_max_microseconds_per_block = 0 FORMAT Null"
    );
    let argv: Vec<CString> = [
        "clickhouse".to_string(),
        format!("--path={}", args.path.display()),
        format!("--http_port={}", args.http_port),
        format!("--listen_host={}", args.listen_host),
        format!("--query={query}"),
    ]
    .into_iter()
    .map(|a| CString::new(a).expect("arguments have no NUL"))
    .collect();
    let mut ptrs: Vec<*mut c_char> = argv.iter().map(|a| a.as_ptr() as *mut c_char).collect();
    ptrs.push(std::ptr::null_mut());

    let lib = CString::new(args.lib.as_os_str().as_encoded_bytes()).expect("path has no NUL");
    // SAFETY: dlopen/dlsym with valid C strings; the symbol's signature is chDB's exported
    // `chdb_query_cmdline(int argc, char **argv)`; argv outlives the call.
    unsafe {
        let handle = libc::dlopen(lib.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
        if handle.is_null() {
            let why = std::ffi::CStr::from_ptr(libc::dlerror()).to_string_lossy();
            eprintln!("error: cannot load {}: {why}", args.lib.display());
            return ExitCode::from(2);
        }
        let sym = libc::dlsym(handle, c"chdb_query_cmdline".as_ptr());
        if sym.is_null() {
            eprintln!("error: {} has no chdb_query_cmdline; use @chdb/lib-linux-x64-gnu 26.7.x", args.lib.display());
            return ExitCode::from(2);
        }
        let f: QueryCmdline = std::mem::transmute::<*mut c_void, QueryCmdline>(sym);
        eprintln!(
            "chdb-serve: ClickHouse HTTP on {}:{} (data {})",
            args.listen_host,
            args.http_port,
            args.path.display()
        );
        f((ptrs.len() - 1) as c_int, ptrs.as_mut_ptr());
    }
    eprintln!("chdb-serve: the engine's command line returned; exiting");
    ExitCode::SUCCESS
}
