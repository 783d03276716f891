//! The deployment files, read by the tools that read them in production:
//! - helm/tickwatch: `helm lint --strict`, `helm template` with the defaults and with every
//!   option on, each manifest validated against the Kubernetes schemas (1.25 and current,
//!   unknown fields refused), every stage's command line accepted by this `tickwatch`, the
//!   settings the chart writes loaded by `tickwatch check`, and the objects that point at each
//!   other (HPAs, PDBs, Services, the ServiceMonitor) pointing at what exists;
//! - prometheus/: `promtool check rules` and the rules' unit tests, and every metric a rule
//!   reads is one a stage exports;
//! - rpk/down.sh: what it removes, in which order, and only when confirmed.
//!
//! helm and the schema validator are installed by scripts/setup.sh (`make setup`).

use serde::Deserialize;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tickwatch_testkit::{repo_root, stack, unique};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");

mod helm;
mod prometheus;
mod rpk;

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
