//! helm/tickwatch: lint, render, schemas, command lines, settings, references.

use super::*;

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
