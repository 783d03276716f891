//! What `tickwatch up` runs: the stages and their command lines, and for `--offline` the fake
//! venues and the exchanges file that points the ingestor at them.

use super::supervise::Supervisor;
use std::path::{Path, PathBuf};

/// One process to keep running: its name (and log file) and its arguments.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    pub args: Vec<String>,
}

/// A transform with its input and outputs, as `rpk/transforms.sh` deploys it in Redpanda.
pub struct TransformPlan {
    pub name: &'static str,
    pub input: &'static str,
    pub outputs: [&'static str; 2],
}

/// The CEX transforms (the DEX one has no ingestor here yet).
pub const TRANSFORMS: [TransformPlan; 3] = [
    TransformPlan { name: "tw-trades", input: "raw.trades", outputs: ["trades", "raw.trades.quarantine"] },
    TransformPlan { name: "tw-depth", input: "raw.depth", outputs: ["depth", "raw.depth.quarantine"] },
    TransformPlan { name: "tw-reference", input: "raw.reference", outputs: ["reference", "raw.reference.quarantine"] },
];

/// The offline market: per fake venue, its symbols.
const OFFLINE: [(&str, &str); 2] = [("binance", "BTCUSDT,ETHUSDT"), ("okx", "BTC-USDT,ETH-USDT")];

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Every stage after the venues: the ingestor (of `exchanges`, or the settings' file), the
/// transform host per transform, the window workers, both writers, analytics, the alert
/// engine and notifier, k-line reconciliation, and the API on `api_listen`. Each serves /metrics on its own port.
pub fn stages(exchanges: Option<&Path>, wasm_dir: &Path, api_listen: &str, metrics_base_port: u16) -> Vec<Stage> {
    let mut stages = Vec::new();
    let mut ingest = strings(&["ingest"]);
    if let Some(file) = exchanges {
        ingest.extend(["--exchanges".to_string(), file.display().to_string()]);
    }
    stages.push(Stage { name: "ingest".into(), args: ingest });
    for t in &TRANSFORMS {
        let wasm: PathBuf = wasm_dir.join(format!("{}.wasm", t.name));
        let mut args = strings(&["transform", "run", "--wasm"]);
        args.push(wasm.display().to_string());
        args.extend(strings(&["--input", t.input, "--output", t.outputs[0], "--output", t.outputs[1]]));
        stages.push(Stage { name: t.name.into(), args });
    }
    for (name, args) in [
        ("windows", &["windows", "run"][..]),
        ("book-windows", &["windows", "book"]),
        ("sink-clickhouse", &["sink", "clickhouse"]),
        ("sink-parquet", &["sink", "parquet"]),
        ("analytics", &["analytics", "run"]),
        ("alert-engine", &["alerts", "engine"]),
        ("notifier", &["alerts", "notify"]),
        ("reconcile", &["reconcile", "run"]),
        ("api", &["api", "serve", "--listen", api_listen]),
    ] {
        let mut args = strings(args);
        if let (Some(file), "reconcile") = (exchanges, name) {
            args.extend(["--exchanges".to_string(), file.display().to_string()]);
        }
        stages.push(Stage { name: name.into(), args });
    }
    for (i, stage) in stages.iter_mut().enumerate() {
        let port = metrics_base_port.saturating_add(i as u16);
        stage.args.extend(["--metrics-listen".to_string(), format!("127.0.0.1:{port}")]);
    }
    stages
}

/// Start the fake venues (kept running like the stages, on fixed ports so that a restart
/// serves the same URLs) and write the exchanges file for them; returns its path.
pub async fn offline_venues(supervisor: &mut Supervisor, dir: &Path, hours: u64) -> anyhow::Result<PathBuf> {
    let mut yaml = String::from("# Written by `tickwatch up --offline`: the fake venues of this run.\nvenues:\n");
    for (venue, symbols) in OFFLINE {
        let (ws, rest) = (free_port()?, free_port()?);
        let args = vec![
            "fake-venue".to_string(),
            "--venue".into(),
            venue.into(),
            "--synthetic-seed".into(),
            "1".into(),
            "--synthetic-symbols".into(),
            symbols.into(),
            "--synthetic-from-now".into(),
            "--synthetic-seconds".into(),
            (hours.max(1) * 3600).to_string(),
            "--synthetic-trades".into(),
            "5".into(),
            "--synthetic-depth".into(),
            "5".into(),
            "--ws-listen".into(),
            format!("127.0.0.1:{ws}"),
            "--rest-listen".into(),
            format!("127.0.0.1:{rest}"),
        ];
        let line = supervisor.start_and_read_line(Stage { name: format!("fake-{venue}"), args }).await?;
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("the fake {venue} did not say its {name} (it said `{line}`)"))
        };
        let (ws_url, rest_url) = (field("ws_url=")?, field("rest_url=")?);
        yaml.push_str(&format!(
            "  {venue}:\n    ws_url: {ws_url}\n    rest_url: {rest_url}\n    channels: [trades, depth]\n    \
             instruments: [BTC-USDT, ETH-USDT]\n    snapshot_depth: 100\n    snapshot_check_period: 5m\n    \
             max_streams_per_connection: 50\n    subscribe_per_second: 10\n    \
             reconnect: {{initial_backoff: 100ms, max_backoff: 2s, jitter: 0.2}}\n    rotate_after: 23h\n    \
             stall_after: 60s\n"
        ));
    }
    let path = dir.join("exchanges.offline.yaml");
    std::fs::write(&path, yaml).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_has_its_own_metrics_port_and_the_transforms_their_topics() {
        let stages = stages(Some(Path::new("x.yaml")), Path::new("w"), "127.0.0.1:8080", 9470);
        let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ingest",
                "tw-trades",
                "tw-depth",
                "tw-reference",
                "windows",
                "book-windows",
                "sink-clickhouse",
                "sink-parquet",
                "analytics",
                "alert-engine",
                "notifier",
                "reconcile",
                "api"
            ]
        );
        let ports: std::collections::BTreeSet<&String> = stages.iter().map(|s| s.args.last().unwrap()).collect();
        assert_eq!(ports.len(), stages.len(), "{stages:?}");
        assert_eq!(stages[0].args[..3], ["ingest", "--exchanges", "x.yaml"]);
        assert_eq!(
            stages[1].args[..9],
            [
                "transform",
                "run",
                "--wasm",
                "w/tw-trades.wasm",
                "--input",
                "raw.trades",
                "--output",
                "trades",
                "--output"
            ]
        );
        let args_of = |name: &str| &stages.iter().find(|s| s.name == name).unwrap().args;
        assert!(args_of("api").windows(2).any(|w| w == ["--listen", "127.0.0.1:8080"]));
        assert_eq!(
            args_of("reconcile")[..4],
            ["reconcile", "run", "--exchanges", "x.yaml"],
            "the offline venues' REST"
        );
    }
}
