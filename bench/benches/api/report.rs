//! The benchmark's tables.

use crate::{Row, CONNECTIONS, HISTORY_PHASE, HOT_PHASE, HOT_RATE, WARMUP};
use std::time::Duration;
use tickwatch_bench::load::ms;

pub fn print_tables(rows: &[Row], seeded: bool, skipped: &[String], klines_url: &str) {
    println!();
    println!(
        "API under load (`tickwatch api serve`, a second process, loopback): open-loop schedule, latency from each \
         request's due time to its last byte, {CONNECTIONS} keep-alive HTTP/1.1 connections, {} s warm-up, then {} s \
         per hot row and {} s per k-line row; {} cores; k-lines {}.",
        WARMUP.as_secs(),
        HOT_PHASE.as_secs(),
        HISTORY_PHASE.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if seeded { "seeded now" } else { "already seeded" },
    );
    println!("k-line request: {klines_url} (1 440 bars, 420 kB)");
    println!();
    println!(
        "| target | asked req/s | requests | achieved req/s | p50 ms | p95 ms | p99 ms | max ms | not 2xx | p50 / base \
         | p95 / base | API CPU µs/req | ClickHouse CPU µs/req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let cpu = |c: Option<f64>| c.map_or("-".into(), |c| format!("{c:.0}"));
    for r in rows {
        let l = &r.report.latency;
        let ratio = |q: f64| match r.baseline {
            Some(b) => {
                let base = rows[b].report.latency.quantile(q).as_secs_f64();
                format!("{:.2}", l.quantile(q).as_secs_f64() / base.max(1e-6))
            }
            None => "(base)".into(),
        };
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.asked,
            r.report.due(),
            r.achieved,
            ms(l.quantile(0.50)),
            ms(l.quantile(0.95)),
            ms(l.quantile(0.99)),
            ms(l.max()),
            r.report.problems(),
            ratio(0.50),
            ratio(0.95),
            cpu(r.api_cpu_us),
            cpu(r.clickhouse_cpu_us),
        );
    }
    println!();
    println!(
        "Where the time went: on the wire (send → last byte, what a closed-loop tool would report) and this \
         generator's own lag (due → send, included above):"
    );
    println!();
    println!("| target | wire p50 ms | wire p95 ms | wire p99 ms | lag p50 ms | lag p99 ms | bytes/answer |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        let (w, g) = (&r.report.service, &r.report.send_lag);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            ms(w.quantile(0.50)),
            ms(w.quantile(0.95)),
            ms(w.quantile(0.99)),
            ms(g.quantile(0.50)),
            ms(g.quantile(0.99)),
            r.report.bytes.checked_div(r.report.answered()).unwrap_or(0),
        );
    }
    println!();
    let hot: Vec<&Row> = rows.iter().filter(|r| r.baseline == Some(0)).collect();
    let (met, missed): (Vec<&&Row>, Vec<&&Row>) =
        hot.iter().partition(|r| r.report.latency.quantile(0.95) <= Duration::from_millis(10));
    let names = |v: &[&&Row]| v.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join(", ");
    println!(
        "Hot-query goal p95 ≤ 10 ms at {HOT_RATE} req/s: met by [{}]; missed by [{}]",
        names(&met),
        names(&missed)
    );
    for r in rows.iter().filter(|r| r.achieved < 0.95 * r.asked) {
        println!(
            "Over capacity: {} achieved {:.0} of {} req/s; its latencies are mostly queueing and grow with the phase",
            r.label, r.achieved, r.asked
        );
    }
    for s in skipped {
        println!("Not measured (no 200 on this stack): {s}");
    }
    for r in rows.iter().filter(|r| r.report.problems() != "-") {
        println!("WARNING: {}: {} (latencies above count every HTTP answer)", r.label, r.report.problems());
    }
    println!(
        "(CPU per request: the process's user + system time over the phase; ClickHouse's includes other clients.)"
    );
}
