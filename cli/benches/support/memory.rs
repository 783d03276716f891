//! Where a stage's memory went over a run: its mappings (`/proc/PID/smaps`) read at two
//! points and compared, so a rise can be told apart as the brk heap, an anonymous region
//! (one of glibc's arenas, a thread's stack, a large allocation, a wasm module's memory) or
//! the executable's pages.

use tickwatch_testkit::process::{grown_mappings, Mapping};

/// Prints the mappings of one stage that changed by 128 kB or more, largest first (at most
/// eight), and the total of each kind of mapping at both points.
pub fn print_grown(stage: &str, before: &[Mapping], after: &[Mapping]) {
    let total =
        |maps: &[Mapping], kind: &str| -> u64 { maps.iter().filter(|m| kind_of(m) == kind).map(|m| m.rss_kb).sum() };
    let kinds = ["heap", "anonymous", "file", "other"];
    let totals: Vec<String> =
        kinds.iter().map(|k| format!("{k} {} → {} kB", total(before, k), total(after, k))).collect();
    println!("{stage}: {}", totals.join(", "));
    for (m, delta) in grown_mappings(before, after, 128).into_iter().take(8) {
        println!(
            "  {delta:+} kB: {:x} {} {} kB mapped, {} kB resident, {}",
            m.start,
            m.perms,
            m.size_kb,
            m.rss_kb,
            if m.name.is_empty() { "(anonymous)" } else { &m.name }
        );
    }
}

fn kind_of(m: &Mapping) -> &'static str {
    match m.name.as_str() {
        "[heap]" => "heap",
        "" => "anonymous",
        n if n.starts_with('/') => "file",
        _ => "other",
    }
}
