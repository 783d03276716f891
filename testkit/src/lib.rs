//! Tests that need real servers call [`stack()`]: it runs `scripts/stack.sh up` (install what
//! is missing, start what is not running; a no-op when the stack is up) once per test
//! process, serialised across processes with `flock`, and returns the endpoints.
//! [`evm`] turns the recorded EVM logs of `../shared/fixtures` into raw records;
//! [`prometheus`] has the stack's Prometheus scrape a test's process and reads it back.

pub mod evm;
pub mod market;
pub mod process;
pub mod produce;
pub mod prometheus;
pub mod servers;
pub mod webdriver;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tickwatch_runtime::broker::BrokerFlavor;
use tickwatch_runtime::settings::BrokerSettings;
use tickwatch_runtime::Settings;

/// Where the local stack's servers listen.
#[derive(Debug, Clone)]
pub struct Stack {
    pub dir: PathBuf,
    pub settings_path: PathBuf,
    pub settings: Settings,
    pub noida_bootstrap: String,
    pub redis_url: String,
    pub prometheus_url: String,
    pub s3_endpoint: String,
    pub python: PathBuf,
    vars: HashMap<String, String>,
}

impl Stack {
    /// The suite's main broker (Tansu).
    pub fn broker(&self) -> BrokerSettings {
        self.settings.broker.clone()
    }

    /// The second broker (noida-db), for what Tansu gets wrong.
    pub fn noida(&self) -> BrokerSettings {
        BrokerSettings {
            bootstrap: self.noida_bootstrap.clone(),
            flavor: BrokerFlavor::Noida,
            client_id: "tickwatch-test".into(),
            fetch_wait_ms: 500,
            compression: Default::default(),
        }
    }

    /// Both brokers, for tests that must hold on each.
    pub fn brokers(&self) -> Vec<BrokerSettings> {
        vec![self.broker(), self.noida()]
    }

    /// The process id of one of the stack's servers (`broker`, `clickhouse`, ...), from the
    /// pid file `scripts/stack.sh` keeps; `None` when it is not running.
    pub fn server_pid(&self, name: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.dir.join("run").join(format!("{name}.pid"))).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testkit lives in the workspace").to_path_buf()
}

/// Bring the stack up (once per process) and describe it.
pub fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let root = repo_root();
        let dir = std::env::var_os("TW_STACK_DIR").map(PathBuf::from).unwrap_or_else(|| root.join(".stack"));
        std::fs::create_dir_all(&dir).expect("stack dir");
        let lock = dir.join("up.lock");
        // -o: the servers that `up` starts must not inherit the lock's descriptor, or they
        // would hold the lock for as long as they run.
        let status = Command::new("flock")
            .arg("-o")
            .args(["-w", "900"])
            .arg(&lock)
            .arg("bash")
            .arg(root.join("scripts/stack.sh"))
            .arg("up")
            .status()
            .expect("flock and bash are installed");
        assert!(status.success(), "scripts/stack.sh up failed; see {}/logs", dir.display());
        let env_text = std::fs::read_to_string(dir.join("env")).expect("stack.sh up writes .stack/env");
        let vars: HashMap<String, String> =
            env_text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let settings_path = dir.join("tickwatch.yaml");
        let settings = Settings::load(&settings_path).expect("the stack's settings load");
        let get = |k: &str| vars.get(k).cloned().unwrap_or_else(|| panic!("{k} missing from .stack/env"));
        Stack {
            noida_bootstrap: get("TW_NOIDA_BOOTSTRAP"),
            redis_url: get("TW_REDIS_URL"),
            prometheus_url: get("TW_PROMETHEUS_URL"),
            s3_endpoint: get("TW_S3_ENDPOINT"),
            python: PathBuf::from(get("TW_PYTHON")),
            dir,
            settings_path,
            settings,
            vars,
        }
    })
}

/// A name no other test run has used: `<prefix>-<pid>-<nanos>`.
pub fn unique(prefix: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// Path of `../shared/fixtures` if present (tests that need it skip with a message if not).
pub fn fixtures() -> Option<PathBuf> {
    let p = repo_root().join("../shared/fixtures");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/fixtures not found beside the repository");
        None
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().expect("addr").port()
}

/// A settings file like the stack's, with the registry's listen address and topic replaced.
pub fn settings_with_registry(stack: &Stack, listen_port: u16, topic: &str) -> PathBuf {
    let text = std::fs::read_to_string(&stack.settings_path).expect("stack settings");
    let registry_port = stack.settings.registry.listen.rsplit(':').next().expect("host:port").to_string();
    let text = text
        .replace(&format!("127.0.0.1:{registry_port}"), &format!("127.0.0.1:{listen_port}"))
        .replace("topic: _schemas", &format!("topic: {topic}"));
    let path = std::env::temp_dir().join(format!("{}.yaml", unique("tw-settings")));
    std::fs::write(&path, text).expect("write temp settings");
    path
}

/// A child process killed (SIGKILL) when dropped.
pub struct ChildGuard(pub std::process::Child);

/// Run `bin --config <settings> <args>` with its stderr (the log) in
/// `target/<folder>/<prefix>-<name>.log`.
pub fn spawn_logged<S: AsRef<std::ffi::OsStr>>(
    bin: &str,
    settings: &Path,
    (folder, prefix, name): (&str, &str, &str),
    args: &[S],
) -> ChildGuard {
    let dir = repo_root().join("target").join(folder);
    std::fs::create_dir_all(&dir).expect("log folder");
    let log = std::fs::File::create(dir.join(format!("{prefix}-{name}.log"))).expect("log file");
    let child = Command::new(bin)
        .arg("--config")
        .arg(settings)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{bin} ({name}) does not start: {e}"));
    ChildGuard(child)
}

impl ChildGuard {
    /// SIGTERM, then wait (up to a minute) for the process to finish what it holds and exit.
    pub fn terminate(&mut self) {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill is installed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.0.try_wait().expect("the child's status").is_none() {
            assert!(std::time::Instant::now() < deadline, "process {pid} did not stop on SIGTERM");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Poll `url` until it answers 2xx, or panic after `secs`.
pub fn wait_http(url: &str, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        let ok =
            Command::new("curl").args(["-fs", "-o", "/dev/null", url]).status().map(|s| s.success()).unwrap_or(false);
        if ok {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{url} did not answer within {secs} s");
}
