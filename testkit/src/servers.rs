//! Servers of a test's own, for tests that stop them (a ClickHouse outage, an S3 outage)
//! without disturbing anyone else: the same programs the stack runs, on a free port and a
//! temporary data directory. And a settings file pointing at a database of a test's own.

use crate::{free_port, unique, wait_http, ChildGuard, Stack};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A settings file like the stack's, with the ClickHouse URL and database replaced.
pub fn settings_with_clickhouse(stack: &Stack, url: &str, database: &str) -> PathBuf {
    let text = std::fs::read_to_string(&stack.settings_path).expect("stack settings");
    let text = text
        .replace(&stack.settings.clickhouse.url, url)
        .replace(&format!("database: {}", stack.settings.clickhouse.database), &format!("database: {database}"));
    let path = std::env::temp_dir().join(format!("{}.yaml", unique("tw-settings")));
    std::fs::write(&path, text).expect("write temp settings");
    path
}

/// A server process of the test's own, killed and restarted at will.
pub struct OwnServer {
    program: PathBuf,
    args: Vec<String>,
    health: String,
    pub dir: PathBuf,
    pub port: u16,
    child: Option<ChildGuard>,
}

impl OwnServer {
    /// ClickHouse (the chDB engine, started by `tickwatch chdb-serve` of the binary under test).
    pub fn clickhouse(stack: &Stack, tickwatch: &Path) -> OwnServer {
        let lib = stack.var("TW_CHDB_LIB").expect("TW_CHDB_LIB in .stack/env (scripts/stack.sh up)").to_string();
        let (dir, port) = (std::env::temp_dir().join(unique("tw-clickhouse")), free_port());
        let args = vec![
            "chdb-serve".into(),
            "--lib".into(),
            lib,
            "--path".into(),
            dir.display().to_string(),
            "--http-port".into(),
            port.to_string(),
        ];
        OwnServer::start(tickwatch.to_path_buf(), args, format!("http://127.0.0.1:{port}/ping"), dir, port)
    }

    /// S3 (s3s-fs over a temporary directory, with the stack's keys and a `bucket`).
    pub fn s3(stack: &Stack, bucket: &str) -> OwnServer {
        let bin = stack.var("TW_S3S_BIN").expect("TW_S3S_BIN in .stack/env (scripts/stack.sh up)");
        let (dir, port) = (std::env::temp_dir().join(unique("tw-s3")), free_port());
        std::fs::create_dir_all(dir.join(bucket)).expect("bucket folder");
        let key = |k: &str| stack.var(k).unwrap_or_else(|| panic!("{k} in .stack/env")).to_string();
        let args = vec![
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--access-key".into(),
            key("TICKWATCH_S3_ACCESS_KEY"),
            "--secret-key".into(),
            key("TICKWATCH_S3_SECRET_KEY"),
            dir.display().to_string(),
        ];
        // Any HTTP answer (403 without a signature) means it is up.
        OwnServer::start(PathBuf::from(bin), args, format!("http://127.0.0.1:{port}/"), dir, port)
    }

    fn start(program: PathBuf, args: Vec<String>, health: String, dir: PathBuf, port: u16) -> OwnServer {
        let mut server = OwnServer { program, args, health, dir, port, child: None };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash or a pulled plug would end it (its data stays on disk).
    pub fn kill(&mut self) {
        self.child.take();
    }

    /// Start again on the same port and data directory, and wait until it answers.
    pub fn restart(&mut self) {
        std::fs::create_dir_all(&self.dir).expect("server data directory");
        let log = std::fs::File::create(self.dir.with_extension("log")).expect("server log");
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", self.program.display()));
        self.child = Some(ChildGuard(child));
        if self.health.ends_with("/ping") {
            wait_http(&self.health, 60);
        } else {
            wait_port(self.port, 60);
        }
    }
}

/// A Tansu broker of a test's own (the stack's binary) on `port`, with `storage` as its
/// `--storage-engine` (`memory://tansu/`, or `s3://BUCKET/` with the S3 variables in `env`),
/// once it listens. Dropping the guard kills it; what it stored in S3 stays.
pub fn tansu(stack: &Stack, port: u16, storage: &str, env: &[(&str, &str)]) -> ChildGuard {
    let bin = stack.var("TW_TANSU_BIN").expect("TW_TANSU_BIN in .stack/env (scripts/stack.sh up)");
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(bin)
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", storage])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu starts");
    let guard = ChildGuard(child);
    wait_port(port, 20);
    guard
}

fn wait_port(port: u16, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "port {port} did not open within {secs} s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
