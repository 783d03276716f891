//! ClickHouse for tests: a settings file pointing at a database of the test's own on the
//! stack's server, or a whole server of the test's own (the chDB engine, as the stack runs
//! it) for tests that stop ClickHouse without disturbing anyone else.

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

/// A ClickHouse server of the test's own, on a free port and a temporary data directory.
pub struct OwnClickHouse {
    tickwatch: PathBuf,
    lib: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
    child: Option<ChildGuard>,
}

impl OwnClickHouse {
    /// Start it with `tickwatch chdb-serve` (the binary under test) and wait until it answers.
    pub fn start(stack: &Stack, tickwatch: &Path) -> OwnClickHouse {
        let lib = PathBuf::from(stack.var("TW_CHDB_LIB").expect("TW_CHDB_LIB in .stack/env (scripts/stack.sh up)"));
        let dir = std::env::temp_dir().join(unique("tw-clickhouse"));
        let mut server = OwnClickHouse { tickwatch: tickwatch.to_path_buf(), lib, dir, port: free_port(), child: None };
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

    /// Start again on the same port and data directory.
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.dir.with_extension("log")).expect("server log");
        let child = Command::new(&self.tickwatch)
            .args(["chdb-serve", "--lib"])
            .arg(&self.lib)
            .arg("--path")
            .arg(&self.dir)
            .args(["--http-port", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tickwatch chdb-serve starts");
        self.child = Some(ChildGuard(child));
        wait_http(&format!("{}/ping", self.url()), 60);
    }
}

impl Drop for OwnClickHouse {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
