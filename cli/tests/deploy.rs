//! The deployment files, read by the tools that read them in production:
//! - helm/tickwatch: `helm lint --strict`, `helm template` with the defaults and with every
//!   option on, each manifest validated against the Kubernetes schemas (1.25 and current,
//!   unknown fields refused), every stage's command line accepted by this `tickwatch`, the
//!   settings the chart writes loaded by `tickwatch check`, and the objects that point at each
//!   other (HPAs, PDBs, Services, the ServiceMonitor) pointing at what exists;
//! - prometheus/: `promtool check rules` and the rules' unit tests, and every metric a rule
//!   reads is one a stage exports.
//!
//! helm and the schema validator are installed by scripts/setup.sh (`make setup`).

use serde::Deserialize;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tickwatch_testkit::{repo_root, stack, unique};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");

/// A variable of scripts/lib.sh (where setup.sh installs things).
fn lib_var(name: &str) -> PathBuf {
    stack(); // the stack's start runs setup.sh, which installs helm and the validator
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source scripts/lib.sh && printf %s \"${name}\""))
        .current_dir(repo_root())
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn helm(args: &[&str]) -> Output {
    run(Command::new(lib_var("HELM_BIN")).args(args).current_dir(repo_root()))
}

/// `helm template` with `--set` pairs; the rendered documents.
fn render(sets: &[&str]) -> (String, Vec<Value>) {
    let mut args = vec!["template", "tw", "helm/tickwatch"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = helm(&args);
    assert!(out.status.success(), "helm template {sets:?}: {}", text(&out));
    let yaml = String::from_utf8(out.stdout).unwrap();
    let docs = serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect();
    (yaml, docs)
}

/// kubernetes-validate --strict on `yaml` for one Kubernetes version.
fn validate(yaml: &str, version: &str) -> Output {
    let file = std::env::temp_dir().join(format!("{}.yaml", unique("chart")));
    std::fs::write(&file, yaml).unwrap();
    let out = run(Command::new(lib_var("VENV").join("bin/kubernetes-validate")).args([
        "--strict",
        "--quiet",
        "-k",
        version,
        file.to_str().unwrap(),
    ]));
    let _ = std::fs::remove_file(file);
    out
}

fn kind<'a>(docs: &'a [Value], k: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == k).collect()
}

fn name(d: &Value) -> &str {
    d["metadata"]["name"].as_str().unwrap()
}

fn component(d: &Value) -> &str {
    d["metadata"]["labels"]["app.kubernetes.io/component"].as_str().unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_sequence().map(|s| s.iter().map(|x| x.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

/// Does `selector` (matchLabels or a Service's selector) select `labels`?
fn selects(selector: &Value, labels: &Value) -> bool {
    selector.as_mapping().is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| &labels[k] == v))
}

fn pod_labels(d: &Value) -> &Value {
    &d["spec"]["template"]["metadata"]["labels"]
}

/// Every stage's command line must be one this tickwatch accepts: clap refuses an unknown
/// subcommand or flag before it gets to `--help`.
fn assert_command_lines_parse(deployments: &[&Value]) {
    for d in deployments {
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        let mut args = strs(&c["args"]);
        args.push("--help".into());
        let out = run(Command::new(BIN).args(&args));
        assert!(out.status.success(), "{}: tickwatch {args:?} is refused: {}", name(d), text(&out));
    }
}

#[test]
fn the_chart_lints_renders_valid_manifests_and_runs_this_tickwatch() {
    let lint = helm(&["lint", "--strict", "helm/tickwatch"]);
    assert!(lint.status.success(), "helm lint: {}", text(&lint));

    let (yaml, docs) = render(&[]);
    for version in ["1.25.0", "1.37.0"] {
        let out = validate(&yaml, version);
        assert!(out.status.success(), "Kubernetes {version} schemas: {}", text(&out));
    }
    let deployments = kind(&docs, "Deployment");
    let components: BTreeSet<&str> = deployments.iter().map(|d| component(d)).collect();
    let expected: BTreeSet<&str> = [
        "ingest-binance",
        "ingest-okx",
        "ingest-bybit",
        "windows",
        "book-windows",
        "sink-clickhouse",
        "sink-parquet",
        "analytics",
        "alert-engine",
        "notifier",
        "reconcile",
        "api",
    ]
    .into();
    assert_eq!(components, expected, "one Deployment per stage, the transform host off by default");
    assert_command_lines_parse(&deployments);

    for d in &deployments {
        let (n, spec) = (name(d), &d["spec"]["template"]["spec"]);
        let c = &spec["containers"][0];
        let ports: Vec<&str> = c["ports"].as_sequence().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            assert_eq!(c[probe]["httpGet"]["path"], path, "{n} {probe}");
            let port = c[probe]["httpGet"]["port"].as_str().unwrap();
            assert!(ports.contains(&port), "{n}: {probe} on port {port}, not one of {ports:?}");
        }
        assert!(c["resources"]["requests"]["cpu"].is_string(), "{n} requests resources");
        assert!(selects(&d["spec"]["selector"]["matchLabels"], pod_labels(d)), "{n} selects its own pods");
        let env: Vec<&str> = c["env"].as_sequence().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert!(env.contains(&"TICKWATCH_CONFIG"), "{n} reads the chart's settings");
        // Stages that keep state per group, and ingestors, never run twice at once.
        let single = ["analytics", "alert-engine", "notifier", "reconcile"].contains(&component(d))
            || component(d).starts_with("ingest-");
        if single {
            assert_eq!(
                (&d["spec"]["replicas"], &d["spec"]["strategy"]["type"]),
                (&Value::from(1), &Value::from("Recreate")),
                "{n}"
            );
        }
    }
    let args_of = |c: &str| {
        let d = deployments.iter().find(|d| component(d) == c).unwrap();
        strs(&d["spec"]["template"]["spec"]["containers"][0]["args"])
    };
    assert_eq!(args_of("ingest-binance")[2..], ["ingest", "--venue", "binance", "--venue", "binance-usdm"]);

    // The settings the chart writes, with its configuration files, as a pod sees them.
    let secret = kind(&docs, "Secret")[0];
    let config = kind(&docs, "ConfigMap")[0];
    let pod_dir = std::env::temp_dir().join(unique("pod"));
    std::fs::create_dir_all(pod_dir.join("config")).unwrap();
    std::fs::create_dir_all(pod_dir.join("etc")).unwrap();
    std::os::unix::fs::symlink(repo_root().join("schemas"), pod_dir.join("schemas")).unwrap();
    for (file, body) in config["data"].as_mapping().unwrap() {
        std::fs::write(pod_dir.join("config").join(file.as_str().unwrap()), body.as_str().unwrap()).unwrap();
        let repo = std::fs::read_to_string(repo_root().join("config").join(file.as_str().unwrap())).unwrap();
        assert_eq!(body.as_str().unwrap().trim_end(), repo.trim_end(), "the chart ships config/{file:?}");
    }
    let settings = secret["stringData"]["tickwatch.yaml"].as_str().unwrap();
    std::fs::write(pod_dir.join("etc/tickwatch.yaml"), settings).unwrap();
    let check = run(Command::new(BIN).args(["--config", "etc/tickwatch.yaml", "check"]).current_dir(&pod_dir));
    assert!(check.status.success(), "tickwatch check on the chart's settings: {}\n{settings}", text(&check));
    assert!(settings.contains("listen: \"0.0.0.0:9464\""), "metrics reachable from outside the pod:\n{settings}");
    let traced = |sets: &[&str]| {
        let (_, docs) = render(sets);
        let text = kind(&docs, "Secret")[0]["stringData"]["tickwatch.yaml"].as_str().unwrap().to_string();
        tickwatch_runtime::Settings::parse(std::path::Path::new("tickwatch.yaml"), &text).unwrap().otel
    };
    let off = traced(&[]);
    assert_eq!((off.endpoint.as_str(), off.sample_ratio), ("", 0.001), "tracing is off by default");
    let on = traced(&["otel.endpoint=http://otel-collector.observability:4318", "otel.sampleRatio=0.01"]);
    assert_eq!((on.endpoint.as_str(), on.sample_ratio), ("http://otel-collector.observability:4318", 0.01));

    // What points at something points at what exists.
    let deployment_names: BTreeSet<&str> = deployments.iter().map(|d| name(d)).collect();
    for h in kind(&docs, "HorizontalPodAutoscaler") {
        let target = h["spec"]["scaleTargetRef"]["name"].as_str().unwrap();
        assert!(deployment_names.contains(target), "HPA {} scales {target}", name(h));
        let d = deployments.iter().find(|d| name(d) == target).unwrap();
        assert!(d["spec"]["replicas"].is_null(), "{target}: the HPA, not the Deployment, sets replicas");
    }
    assert_eq!(kind(&docs, "HorizontalPodAutoscaler").len(), 2, "api and the ClickHouse writer");
    for selector in kind(&docs, "PodDisruptionBudget")
        .iter()
        .map(|p| &p["spec"]["selector"]["matchLabels"])
        .chain(kind(&docs, "Service").iter().map(|s| &s["spec"]["selector"]))
    {
        let matched = deployments.iter().filter(|d| selects(selector, pod_labels(d))).count();
        assert_eq!(matched, 1, "{selector:?} selects exactly one stage");
    }
    let migrate = kind(&docs, "Job")[0];
    assert_eq!(migrate["metadata"]["annotations"]["helm.sh/hook"], "post-install,post-upgrade");
    assert_eq!(strs(&migrate["spec"]["template"]["spec"]["containers"][0]["args"]), ["migrate"]);
}

#[test]
fn every_option_on_still_validates_and_shards_transform_and_monitor_as_asked() {
    let sets = [
        "transformHost.enabled=true",
        "serviceMonitor.enabled=true",
        "prometheusRule.enabled=true",
        "ingest.shards[0].name=binance-majors",
        "ingest.shards[0].venues={binance}",
        "ingest.shards[0].instruments={BTC-USDT,ETH-USDT}",
        "stages.windows.pdb.enabled=true",
        "stages.sinkParquet.autoscaling.enabled=true",
        "secrets.existingSecret=tickwatch-prod",
        "evmIngest.enabled=true",
        "evmIngest.chains[0].name=bsc",
        "evmIngest.chains[0].rpc={$(TICKWATCH_RPC_BSC)}",
    ];
    let (yaml, docs) = render(&sets);
    // The operator's kinds have no built-in schema (a warning, not an error, in --strict).
    for version in ["1.25.0", "1.37.0"] {
        let out = validate(&yaml, version);
        assert!(out.status.success(), "Kubernetes {version} schemas: {}", text(&out));
    }
    let deployments = kind(&docs, "Deployment");
    assert_command_lines_parse(&deployments);
    let args: BTreeMap<&str, Vec<String>> = deployments
        .iter()
        .map(|d| (component(d), strs(&d["spec"]["template"]["spec"]["containers"][0]["args"])))
        .collect();
    assert_eq!(
        args["ingest-binance-majors"][2..],
        ["ingest", "--venue", "binance", "--instrument", "BTC-USDT", "--instrument", "ETH-USDT"]
    );
    // A chain's ingestor: one pod, its checkpoint on the claim it mounts, the endpoint from
    // the Secret's environment.
    assert_eq!(
        args["evm-ingest-bsc"][2..],
        [
            "evm",
            "ingest",
            "--chain",
            "bsc",
            "--checkpoint",
            "/var/lib/tickwatch/evm/bsc.json",
            "--rpc",
            "$(TICKWATCH_RPC_BSC)"
        ]
    );
    let evm = deployments.iter().find(|d| component(d) == "evm-ingest-bsc").unwrap();
    assert_eq!(
        (&evm["spec"]["replicas"], &evm["spec"]["strategy"]["type"]),
        (&Value::from(1), &Value::from("Recreate"))
    );
    let pod = &evm["spec"]["template"]["spec"];
    let mount = pod["containers"][0]["volumeMounts"].as_sequence().unwrap().iter().find(|m| m["name"] == "checkpoint");
    assert_eq!(mount.expect("the checkpoint is mounted")["mountPath"], "/var/lib/tickwatch/evm");
    let volume = pod["volumes"].as_sequence().unwrap().iter().find(|v| v["name"] == "checkpoint").unwrap();
    let claims = kind(&docs, "PersistentVolumeClaim");
    assert_eq!(claims.len(), 1);
    assert_eq!(volume["persistentVolumeClaim"]["claimName"].as_str(), Some(name(claims[0])));
    assert_eq!(
        claims[0]["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
        "the checkpoint outlives the release"
    );
    let trades = &args["tw-trades"];
    for pair in [
        ["--input", "raw.trades"],
        ["--output", "trades"],
        ["--output", "raw.trades.quarantine"],
        ["--wasm", "wasm/tw-trades.wasm"],
    ] {
        assert!(trades.windows(2).any(|w| w == pair), "{pair:?} in {trades:?}");
    }
    assert_eq!(kind(&docs, "Secret").len(), 0, "an existing Secret is used, none made");
    for d in &deployments {
        let env_from = &d["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"];
        assert_eq!(env_from, "tickwatch-prod", "{}", name(d));
    }
    assert_eq!(kind(&docs, "HorizontalPodAutoscaler").len(), 3);
    // The ServiceMonitor scrapes every stage's metrics Service, and only those.
    let monitor = kind(&docs, "ServiceMonitor")[0];
    let metrics_services: Vec<&Value> = kind(&docs, "Service")
        .into_iter()
        .filter(|s| selects(&monitor["spec"]["selector"]["matchLabels"], &s["metadata"]["labels"]))
        .collect();
    assert_eq!(metrics_services.len(), deployments.len(), "one scraped Service per stage");
    assert!(metrics_services.iter().all(|s| s["spec"]["ports"][0]["name"] == monitor["spec"]["endpoints"][0]["port"]));
    let rules = kind(&docs, "PrometheusRule")[0];
    let groups: Vec<&str> =
        rules["spec"]["groups"].as_sequence().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(groups, ["tickwatch.recording", "tickwatch.alerts"]);

    // Mistakes are refused: by the chart (with the field), and by the schemas.
    // (A values file: `--set` on one list item replaces the whole list.)
    let values = std::env::temp_dir().join(format!("{}.yaml", unique("values")));
    std::fs::write(
        &values,
        "ingest:\n  shards:\n    - {name: binance, venues: [binance]}\n    - {name: binance, venues: [okx]}\n",
    )
    .unwrap();
    let twice = helm(&["template", "tw", "helm/tickwatch", "-f", values.to_str().unwrap()]);
    assert!(!twice.status.success() && text(&twice).contains("the name binance is used twice"), "{}", text(&twice));
    for (chains, refusal) in [
        ("[{name: bsc}, {name: bsc}]", "the chain bsc is listed twice"),
        ("[{name: solana}]", "solana is not a chain of the chains file"),
    ] {
        std::fs::write(&values, format!("evmIngest:\n  enabled: true\n  chains: {chains}\n")).unwrap();
        let out = helm(&["template", "tw", "helm/tickwatch", "-f", values.to_str().unwrap()]);
        assert!(!out.status.success() && text(&out).contains(refusal), "{chains}: {}", text(&out));
    }
    let _ = std::fs::remove_file(&values);
    let (bad, _) = render(&["stages.windows.replicas=two"]);
    let out = validate(&bad, "1.37.0");
    assert!(!out.status.success() && text(&out).contains("replicas"), "a string for replicas: {}", text(&out));
}

fn promtool(args: &[&str]) -> Output {
    stack(); // setup.sh installs Debian's prometheus, which brings promtool
    run(Command::new("promtool").args(args).current_dir(repo_root().join("prometheus")))
}

#[test]
fn the_prometheus_rules_check_pass_their_tests_and_read_exported_metrics() {
    let check = promtool(&["check", "rules", "recording.rules.yaml", "alerts.rules.yaml"]);
    assert!(check.status.success(), "{}", text(&check));
    let tests = promtool(&["test", "rules", "tests.yaml"]);
    assert!(tests.status.success(), "{}", text(&tests));

    // Every metric a rule reads is exported by some stage (its name appears in the source).
    let mut exported = String::new();
    collect_rust(&repo_root(), &mut exported);
    let mut read = BTreeSet::new();
    for file in ["recording.rules.yaml", "alerts.rules.yaml"] {
        let rules: Value =
            serde_yaml::from_str(&std::fs::read_to_string(repo_root().join("prometheus").join(file)).unwrap()).unwrap();
        for g in rules["groups"].as_sequence().unwrap() {
            for r in g["rules"].as_sequence().unwrap() {
                let expr = r["expr"].as_str().unwrap();
                read.extend(metric_names(expr));
            }
        }
    }
    assert!(read.len() >= 8, "{read:?}");
    for m in &read {
        if m == "up" {
            continue; // Prometheus's own
        }
        let base = ["_bucket", "_sum", "_count"].iter().fold(m.as_str(), |n, s| n.strip_suffix(s).unwrap_or(n));
        assert!(has_word(&exported, base), "{m}: read by a rule, exported by no stage");
    }
}

/// Metric names in a PromQL expression: identifiers followed by `{` or `[` (recording rules'
/// names, with colons, are rules of this file, not exports).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() || b[i] == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &expr[start..i];
            if matches!(b.get(i), Some(b'{') | Some(b'[')) && !word.contains(':') {
                names.push(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    names
}

/// `word` in `text` with no name character on either side.
fn has_word(text: &str, word: &str) -> bool {
    let name_char = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    text.match_indices(word)
        .any(|(i, _)| !name_char(text[..i].chars().next_back()) && !name_char(text[i + word.len()..].chars().next()))
}

fn collect_rust(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        let n = entry.file_name();
        if p.is_dir() && !matches!(n.to_str(), Some("target" | ".git" | ".stack" | "node_modules" | "tests")) {
            collect_rust(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
}

/// rpk/down.sh with a stand-in `rpk` that records its arguments (rpk itself cannot be
/// installed on these machines; cli_config.rs checks the generated scripts against the
/// declaration): transforms first, then the subjects, then the topics; never `_schemas`,
/// which holds a Redpanda cluster's whole registry; nothing at all unless confirmed.
#[test]
fn rpk_down_removes_transforms_subjects_then_topics_and_spares_the_registry() {
    let bin = std::env::temp_dir().join(unique("rpk-bin"));
    std::fs::create_dir_all(&bin).unwrap();
    let calls = bin.join("calls.log");
    let rpk = bin.join("rpk");
    std::fs::write(&rpk, format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display())).unwrap();
    std::fs::set_permissions(&rpk, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let down = |args: &[&str], stdin: &str| {
        let mut child = Command::new("bash")
            .arg("rpk/down.sh")
            .args(args)
            .env("PATH", &path)
            .current_dir(repo_root())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let refused = down(&[], "n\n");
    assert!(!refused.status.success() && !calls.exists(), "nothing happens without a yes: {}", text(&refused));

    let out = down(&["--yes"], "");
    assert!(out.status.success(), "{}", text(&out));
    let log = std::fs::read_to_string(&calls).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let declared: Vec<String> = std::fs::read_to_string(repo_root().join("rpk/topics.sh"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("create ")?.split(' ').next().map(str::to_string))
        .filter(|t| t != "_schemas")
        .collect();
    assert!(declared.len() >= 20, "{declared:?}");
    assert_eq!(
        lines[..4],
        [
            "transform delete tw-trades --no-confirm",
            "transform delete tw-depth --no-confirm",
            "transform delete tw-reference --no-confirm",
            "transform delete tw-dex --no-confirm"
        ]
    );
    let subjects: Vec<&str> = lines[4..lines.len() - 1].to_vec();
    let expected: Vec<String> = declared
        .iter()
        .flat_map(|t| {
            [format!("registry subject delete {t}-value"), format!("registry subject delete {t}-value --permanent")]
        })
        .collect();
    assert_eq!(subjects, expected);
    assert_eq!(lines.last().unwrap(), &format!("topic delete {}", declared.join(" ")));
    assert!(!log.contains("_schemas"), "{log}");
}
