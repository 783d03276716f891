//! prometheus/: the rules check, their unit tests, and the metrics they read.

use super::*;

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
