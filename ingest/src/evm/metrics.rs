//! The EVM ingestor's Prometheus metrics: logs published by status, reorgs and their depth,
//! JSON-RPC failures by kind, logs the node wrote wrongly, and where the chain and the
//! ingestor stand (head, next block to read).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use tickwatch_runtime::metrics::render_counters;

#[derive(Default)]
struct Inner {
    published: BTreeMap<(String, &'static str), u64>,
    reorgs: BTreeMap<String, u64>,
    deepest_reorg: BTreeMap<String, u64>,
    deep_reorgs: BTreeMap<String, u64>,
    rpc_errors: BTreeMap<(String, String, &'static str), u64>,
    garbage: BTreeMap<String, u64>,
    head: BTreeMap<String, u64>,
    next_block: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct EvmMetrics(Mutex<Inner>);

impl EvmMetrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.0.lock().expect("metrics lock"))
    }

    /// `n` logs published with `status` (pending, confirmed, retracted).
    pub fn published(&self, chain: &str, status: &'static str, n: u64) {
        self.with(|m| *m.published.entry((chain.into(), status)).or_default() += n)
    }

    /// A reorg of `depth` blocks was followed; `beyond_window`: deeper than the blocks kept.
    pub fn reorg(&self, chain: &str, depth: u64, beyond_window: bool) {
        self.with(|m| {
            *m.reorgs.entry(chain.into()).or_default() += 1;
            let deepest = m.deepest_reorg.entry(chain.into()).or_default();
            *deepest = (*deepest).max(depth);
            if beyond_window {
                *m.deep_reorgs.entry(chain.into()).or_default() += 1;
            }
        })
    }

    /// A failed JSON-RPC request: `retried`, `range`, `pruned` or `node`.
    pub fn rpc_error(&self, chain: &str, endpoint: &str, kind: &'static str) {
        self.with(|m| *m.rpc_errors.entry((chain.into(), endpoint.into(), kind)).or_default() += 1)
    }

    pub fn garbage_log(&self, chain: &str) {
        self.with(|m| *m.garbage.entry(chain.into()).or_default() += 1)
    }

    pub fn position(&self, chain: &str, head: u64, next_block: u64) {
        self.with(|m| {
            m.head.insert(chain.into(), head);
            m.next_block.insert(chain.into(), next_block);
        })
    }

    /// Every log published so far, whatever its status.
    pub fn published_total(&self) -> u64 {
        self.with(|m| m.published.values().sum())
    }

    pub fn render(&self) -> String {
        let m = self.0.lock().expect("metrics lock");
        let mut s = String::new();
        let chain = |c: &String| format!("chain=\"{c}\"");
        render_counters(
            &mut s,
            "evm_logs_published_total",
            "Pool logs published to raw.dex, by chain and status.",
            m.published.iter().map(|((c, st), n)| (format!("chain=\"{c}\",status=\"{st}\""), *n)),
        );
        render_counters(
            &mut s,
            "evm_reorgs_total",
            "Reorgs followed (pending records retracted and replaced).",
            m.reorgs.iter().map(|(c, n)| (chain(c), *n)),
        );
        render_counters(
            &mut s,
            "evm_deep_reorgs_total",
            "Reorgs deeper than the blocks kept: rows below the kept blocks could not be retracted.",
            m.deep_reorgs.iter().map(|(c, n)| (chain(c), *n)),
        );
        render_counters(
            &mut s,
            "evm_rpc_errors_total",
            "Failed JSON-RPC requests by endpoint and kind (retried, range, pruned, node).",
            m.rpc_errors.iter().map(|((c, e, k), n)| (format!("chain=\"{c}\",endpoint=\"{e}\",kind=\"{k}\""), *n)),
        );
        render_counters(
            &mut s,
            "evm_garbage_logs_total",
            "Logs the node wrote wrongly (left out and said in the log).",
            m.garbage.iter().map(|(c, n)| (chain(c), *n)),
        );
        let gauges: [(&str, &str, &BTreeMap<String, u64>); 3] = [
            ("evm_reorg_depth_max", "The deepest reorg followed (blocks).", &m.deepest_reorg),
            ("evm_head_block", "The chain's head as the node last said it.", &m.head),
            ("evm_next_block", "The next block the ingestor reads.", &m.next_block),
        ];
        for (name, help, values) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (c, v) in values {
                let _ = writeln!(s, "{name}{{chain=\"{c}\"}} {v}");
            }
        }
        s
    }
}
