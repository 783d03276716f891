//! rpk/down.sh.

use super::*;

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
