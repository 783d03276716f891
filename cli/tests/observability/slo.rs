//! `tickwatch slo --prometheus`: the figures Prometheus scraped from the stages, per venue.

use crate::common;
use crate::pipeline::{now_ms, sample, scrape, settings, trades, Pipeline, BIN};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};
use tickwatch_fakes::synthetic::Event;
use tickwatch_testkit::prometheus::{query_value, ScrapeTarget};
use tickwatch_testkit::{free_port, stack, unique};

/// counts, from a /metrics page: the series `name_bucket{labels,le=...}`.
fn buckets(text: &str, name: &str, labels: &str) -> Vec<(f64, f64)> {
    let head = format!("{name}_bucket{{{labels},le=\"");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&head)?;
            let (le, value) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, value.parse().ok()?))
        })
        .collect()
}

/// The bounds of the bucket holding quantile `q` of a cumulative histogram: (lower, upper).
fn bucket_of(b: &[(f64, f64)], q: f64) -> (f64, f64) {
    let total = b.last().map_or(0.0, |x| x.1);
    let rank = q * total;
    let i = b.iter().position(|(_, c)| *c >= rank).unwrap();
    (if i == 0 { 0.0 } else { b[i - 1].0 }, b[i].0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slo_report_reads_latency_recovery_and_reconnects_from_prometheus() {
    let _one_at_a_time = common::SERIAL.lock().await;
    let s = stack();
    let prefix = unique("slom");
    let (settings, _) = settings(&prefix, None);
    let mut p = Pipeline::start(&prefix, settings).await;
    // Prometheus scrapes the ingestor and the writer from before their first record.
    let (ingest_name, sink_name) = (format!("{prefix}-ingest"), format!("{prefix}-sink"));
    let _targets =
        [ScrapeTarget::add(s, &ingest_name, &p.ingest_metrics), ScrapeTarget::add(s, &sink_name, &p.sink_metrics)];
    let deadline = Instant::now() + Duration::from_secs(30);
    while query_value(s, &format!("up{{instance_name=\"{sink_name}\"}}")).await != Some(1.0) {
        assert!(Instant::now() < deadline, "Prometheus never scraped the writer");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // 25 s of trades and book changes; the venue drops the connection every 60 frames.
    let from_ms = now_ms();
    let t0 = from_ms + 3_000;
    let mut events = trades(250, t0);
    events.extend((0..250).map(|i| Event::Depth {
        inst: 0,
        ms: t0 + 50 + i * 100,
        id: i + 1,
        bids: vec![[format!("1.{:02}", i % 20), (1 + i % 7).to_string()]],
        asks: vec![],
    }));
    events.sort_by_key(|e| match e {
        Event::Trade { ms, .. } | Event::Depth { ms, .. } => *ms,
    });
    p.venue(&events, "trades, depth", &["--disconnect-after", "60"]);
    tokio::time::sleep(Duration::from_millis((t0 + 25_000 - now_ms()).max(0) as u64)).await;

    // Once nothing moves any more, Prometheus holds what the stages counted.
    let watched = [
        (&p.sink_metrics, &sink_name, "event_end2end_latency_ms_count{table=\"trades\",venue=\"binance\"}"),
        (&p.ingest_metrics, &ingest_name, "book_resync_seconds_count{venue=\"binance\"}"),
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut settled = true;
        for (listen, name, series) in &watched {
            let direct = sample(&scrape(listen).await, series);
            let promql = series.replacen('{', &format!("{{instance_name=\"{name}\","), 1);
            settled &= direct.is_some() && direct == query_value(s, &promql).await;
        }
        let direct = sample(&scrape(&p.ingest_metrics).await, "ws_reconnects_total");
        let reconnects = query_value(s, &format!("sum(ws_reconnects_total{{instance_name=\"{ingest_name}\"}})")).await;
        let direct_sum: f64 = scrape(&p.ingest_metrics)
            .await
            .lines()
            .filter(|l| l.starts_with("ws_reconnects_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        settled &= direct.is_some() && reconnects == Some(direct_sum);
        if settled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never caught up with the stages; logs in target/test-logs/{prefix}-*.log"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (sink_text, ingest_text) = (scrape(&p.sink_metrics).await, scrape(&p.ingest_metrics).await);
    let to_ms = now_ms();

    let out = Command::new(BIN)
        .arg("--config")
        .arg(&p.settings)
        .args(["slo", "--from", &from_ms.to_string(), "--to", &to_ms.to_string(), "--format", "json"])
        .args(["--prometheus", &s.prometheus_url])
        .output()
        .unwrap();
    assert!(out.status.success(), "tickwatch slo: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let binance = report["venues"].as_array().unwrap().iter().find(|v| v["venue"] == "binance").expect("binance");
    let m = &binance["metrics"];
    eprintln!("binance from the metrics: {m}");
    assert!(binance["trades"].as_i64().is_some_and(|n| n > 100), "ClickHouse's figures stay: {binance}");

    // Latency: where the writer's own histogram puts its P95 (between its P90 and P99 buckets),
    // counting what it observed within the range. The histogram appears with the writer's first
    // batch, and a series' first sample is not an increase: those records are not in the range.
    let labels = "table=\"trades\",venue=\"binance\"";
    let mut latency = buckets(&sink_text, "event_end2end_latency_ms", labels);
    let range = format!("{}s", (now_ms() - from_ms) / 1000 + 1);
    for (le, count) in &mut latency {
        let le = if le.is_infinite() { "+Inf".to_string() } else { le.to_string() };
        let series = format!("event_end2end_latency_ms_bucket{{instance_name=\"{sink_name}\",{labels},le=\"{le}\"}}");
        let first = query_value(s, &format!("min_over_time({series}[{range}])")).await;
        *count -= first.unwrap_or_else(|| panic!("Prometheus holds {series}"));
    }
    let (lo, hi) = (bucket_of(&latency, 0.90).0, bucket_of(&latency, 0.99).1);
    let p95 = m["latency_p95_ms"].as_f64().unwrap_or_else(|| panic!("a latency figure: {m}"));
    assert!(lo <= p95 && p95 <= hi, "latency P95 {p95} ms within [{lo}, {hi}] ({latency:?})");
    assert_eq!(m["latency_met"], p95 <= 2_000.0);

    // Reconnects: the counter's increase (a series' first sample is not an increase).
    let direct: f64 = ingest_text
        .lines()
        .filter(|l| l.starts_with("ws_reconnects_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(direct >= 3.0, "the venue dropped the connection {direct} times");
    let reconnects = m["reconnects"].as_f64().unwrap();
    assert!(reconnects >= direct - 1.0 && reconnects <= direct, "{reconnects} reconnects of {direct}");

    // Recovery: seconds in the ingestor's histogram, milliseconds in the report.
    let resync = buckets(&ingest_text, "book_resync_seconds", "venue=\"binance\"");
    let top = resync.iter().find(|(_, c)| *c >= resync.last().unwrap().1).unwrap().0;
    let recovery = m["recovery_p95_ms"].as_f64().unwrap_or_else(|| panic!("a recovery figure: {m}"));
    assert!(recovery > 0.0 && recovery <= top * 1000.0, "recovery P95 {recovery} ms, slowest bucket ≤ {top} s");
    assert_eq!(m["recovery_met"], recovery <= 3_000.0);

    // A Prometheus that is not there is an error that names it.
    let absent = format!("http://127.0.0.1:{}", free_port());
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&p.settings)
        .args(["slo", "--from", &from_ms.to_string(), "--prometheus", &absent])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("Prometheus at {absent}")), "{err}");
}
