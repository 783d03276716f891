//! The API processes under test, and the HTTP helpers that talk to them and to ClickHouse.

use crate::{BARS, DAY_MS, INSTRUMENT, KLINES_SQL, MINUTE_MS, VENUE};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_bench::load::Target;
use tickwatch_bench::repo_root;
use tickwatch_testkit::{free_port, ChildGuard};

/// What every API process of the run shares.
pub struct Setup {
    pub binary: PathBuf,
    pub settings: PathBuf,
    pub scratch: PathBuf,
    pub redis_prefix: String,
    pub topic_prefix: String,
}

/// `tickwatch api serve` on a free port with a private API file: no rate limit in the way,
/// `history_ttl` as given, this run's topics and Redis keys. Stopped (SIGKILL) when dropped.
pub struct Api {
    pub base: String,
    child: ChildGuard,
}

impl Api {
    pub fn start(setup: &Setup, name: &str, history_ttl: &str) -> Api {
        let Setup { binary, settings, scratch, redis_prefix, topic_prefix } = setup;
        let port = free_port();
        let api_yaml = scratch.join(format!("api-{name}.yaml"));
        let dashboard = repo_root().join("api/dashboard");
        std::fs::write(
            &api_yaml,
            format!(
                "listen: 127.0.0.1:{port}\n\
                 dashboard_dir: {}\n\
                 cache:\n  history_ttl: {history_ttl}\n\
                 rate_limit:\n  per_second: 100000\n  burst: 100000\n\
                 hot:\n  redis_prefix: \"{redis_prefix}\"\n",
                dashboard.display()
            ),
        )
        .expect("write the API file");
        let log_path = scratch.join(format!("api-{name}.log"));
        let log = std::fs::File::create(&log_path).expect("the API's log file");
        let child = Command::new(binary)
            .arg("--config")
            .arg(settings)
            .args(["api", "serve", "--listen", &format!("127.0.0.1:{port}"), "--topic-prefix", topic_prefix, "--api"])
            .arg(&api_yaml)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start tickwatch api serve");
        let mut child = ChildGuard(child);
        let base = format!("http://127.0.0.1:{port}");
        eprintln!("tickwatch api serve ({name}) pid {} on {base}, log {}", child.0.id(), log_path.display());
        // Up (/healthz), then ready (/readyz: ClickHouse answers and the topics are followed).
        let deadline = Instant::now() + Duration::from_secs(180);
        for path in ["/healthz", "/readyz"] {
            loop {
                if let Some(status) = child.0.try_wait().expect("the API's status") {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!("tickwatch api serve exited ({status}) before it was ready:\n{log}");
                }
                let ok = Command::new("curl")
                    .args(["-fs", "-o", "/dev/null", &format!("{base}{path}")])
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{base}{path} did not answer 2xx within 180 s; see {}",
                    log_path.display()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Api { base, child }
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    pub fn stop(&mut self) {
        self.child.terminate();
    }
}

/// User + system CPU time of a process so far.
pub fn cpu_time(pid: u32) -> Duration {
    Duration::from_secs_f64(tickwatch_testkit::process::cpu_seconds(pid))
}

/// The release `tickwatch` binary, built now if it is stale (a no-op when it is not).
pub fn tickwatch_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TW_BENCH_TICKWATCH") {
        return PathBuf::from(path);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "tickwatch"])
        .current_dir(repo_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --release -p tickwatch failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    repo_root().join(target).join("release/tickwatch")
}

/// The query the API sends for the day, sent straight to ClickHouse's HTTP interface the
/// way the API sends it (POST, parameters bound by the server).
pub fn clickhouse_target(settings: &tickwatch_runtime::settings::ClickHouseSettings) -> Target {
    let from = DAY_MS.to_string();
    let to = (DAY_MS + BARS as i64 * MINUTE_MS).to_string();
    let url = reqwest::Url::parse_with_params(
        &settings.url,
        [
            ("database", settings.database.as_str()),
            ("output_format_json_quote_64bit_integers", "0"),
            ("param_eq_venue", VENUE),
            ("param_eq_instrument", INSTRUMENT),
            ("param_eq_interval", "1m"),
            ("param_from", &from),
            ("param_to", &to),
        ],
    )
    .expect("the ClickHouse URL");
    Target::post("clickhouse", url.as_str(), KLINES_SQL)
        .header("X-ClickHouse-User", &settings.user)
        .header("X-ClickHouse-Key", &settings.password)
}

pub async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    let resp = http.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("a body"))
}

pub async fn send_once(http: &reqwest::Client, t: &Target) -> String {
    let mut req = http.request(t.method.clone(), &t.url).body(t.body.clone().unwrap_or_default());
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.expect("ClickHouse answers");
    let status = resp.status();
    let body = resp.text().await.expect("a body");
    assert!(status.is_success(), "ClickHouse refused the API's SELECT ({status}): {body}");
    body
}
