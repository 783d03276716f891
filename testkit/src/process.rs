//! What a running process costs, read from `/proc` (benchmarks report it per stage).

use std::process::Command;

/// User + system CPU seconds of a process so far; 0 when it is gone.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / clock_ticks()
}

/// The kernel's clock ticks a second (`getconf CLK_TCK`; 100 on Linux everywhere in practice).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A process's resident memory, MB: now (`VmRSS`) or its peak so far (`VmHWM`); NaN when it
/// is gone.
pub fn memory_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One mapping of a process's address space, from `/proc/PID/smaps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub size_kb: u64,
    pub rss_kb: u64,
    /// `rw-p` and the like.
    pub perms: String,
    /// `[heap]`, `[stack]`, a file, or empty for anonymous memory (glibc's arenas, thread
    /// stacks, large allocations, a wasm module's memory).
    pub name: String,
}

/// The process's mappings; empty when it is gone.
pub fn mappings(pid: u32) -> Vec<Mapping> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    parse_smaps(&smaps)
}

fn parse_smaps(text: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some(first) = parts.next() else { continue };
        if let Some((start, end)) = first.split_once('-') {
            let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) else {
                continue;
            };
            let perms = parts.next().unwrap_or_default().to_string();
            let name = parts.nth(3).unwrap_or_default().to_string();
            out.push(Mapping { start, size_kb: (end - start) / 1024, rss_kb: 0, perms, name });
        } else if first == "Rss:" {
            if let Some(m) = out.last_mut() {
                m.rss_kb = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        }
    }
    out
}

/// The mappings whose resident memory changed by at least `min_kb` between two readings of
/// one process (matched by start address), largest change first: where a process's memory
/// went.
pub fn grown_mappings(before: &[Mapping], after: &[Mapping], min_kb: u64) -> Vec<(Mapping, i64)> {
    let then: std::collections::HashMap<u64, u64> = before.iter().map(|m| (m.start, m.rss_kb)).collect();
    let mut grown: Vec<(Mapping, i64)> = after
        .iter()
        .map(|m| (m.clone(), m.rss_kb as i64 - then.get(&m.start).copied().unwrap_or(0) as i64))
        .filter(|(_, d)| d.unsigned_abs() >= min_kb)
        .collect();
    grown.sort_by_key(|(_, d)| -d.abs());
    grown
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0a00000-55d0c0c21000 rw-p 00000000 00:00 0                          [heap]
Size:               2180 kB
Rss:                1024 kB
7f0000000000-7f0000400000 rw-p 00000000 00:00 0 
Size:               4096 kB
Rss:                 300 kB
7f1000000000-7f1000001000 r-xp 00001000 fd:01 1234                       /usr/bin/tickwatch
Size:                  4 kB
Rss:                   4 kB
";

    #[test]
    fn smaps_mappings_and_their_growth() {
        let before = parse_smaps(SMAPS);
        assert_eq!(before.len(), 3);
        assert_eq!((before[0].name.as_str(), before[0].rss_kb, before[0].size_kb), ("[heap]", 1024, 2180));
        assert_eq!((before[1].name.as_str(), before[1].perms.as_str(), before[1].rss_kb), ("", "rw-p", 300));
        assert_eq!(before[2].name, "/usr/bin/tickwatch");
        let mut after = before.clone();
        after[1].rss_kb = 1300;
        after[0].rss_kb = 1100;
        let grown = grown_mappings(&before, &after, 64);
        assert_eq!(
            grown.iter().map(|(m, d)| (m.start, *d)).collect::<Vec<_>>(),
            [(0x7f00_0000_0000, 1000), (0x55d0_c0a0_0000, 76)]
        );
    }

    #[test]
    fn a_gone_process_has_no_mappings() {
        assert!(mappings(u32::MAX).is_empty());
    }
}
