//! ClickHouse down for 60 s.

use crate::harness::*;
use crate::records::*;
use std::path::Path;
use std::time::{Duration, Instant};
use tickwatch_model::{QuarantineRecord, Trade};
use tickwatch_testkit::servers::OwnServer;
use tickwatch_testkit::stack;

#[tokio::test(flavor = "multi_thread")]
async fn a_60_second_clickhouse_outage_loses_nothing_and_pauses_consumption() {
    let s = stack();
    let mut server = OwnServer::clickhouse(s, Path::new(BIN));
    let topics = [("trades", 3), ("trades.quarantine", 1)];
    let sink = "clickhouse:\n  topics: [trades, trades.quarantine]\n  batch_rows: 200\n  batch_ms: 200\n  retry_max_ms: 2000\n";
    let bench = Harness::new("cho", &server.url(), "tickwatch", &topics, sink).await;
    let base = now_us() - 10 * 60_000_000;
    let before: Vec<Trade> = (0..2_000).map(|i| trade(i, base)).collect();
    send(&bench.producer, &bench.topic("trades"), &framed(bench.ids["trades"], "k", &before)).await;
    let mut w = bench.sink();
    bench.wait_for(&[("SELECT count() AS n FROM trades FINAL", 2_000)], 60).await;
    // Let the last batch's commit land.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let committed_before = bench.committed("trades", 3);
    assert_eq!(committed_before, 2_000);
    let rss_before = rss_kib(w.0.id());

    server.kill();
    let outage = Instant::now();
    // While it is down: 3 000 more trades and 1 500 quarantine records of 100 KB (150 MB).
    let blob = vec![b'x'; 100 * 1024];
    let mut sent_trades = 2_000u64;
    let mut sent_blobs = 0u64;
    let mut rss_peak = rss_before;
    while outage.elapsed() < Duration::from_secs(60) {
        if sent_trades < 5_000 {
            let more: Vec<Trade> = (sent_trades..sent_trades + 100).map(|i| trade(i, base)).collect();
            send(&bench.producer, &bench.topic("trades"), &framed(bench.ids["trades"], "k", &more)).await;
            sent_trades += 100;
        }
        if sent_blobs < 1_500 {
            let blobs: Vec<QuarantineRecord> = (sent_blobs..sent_blobs + 50)
                .map(|i| QuarantineRecord {
                    source_topic: "raw.trades".into(),
                    source_partition: 0,
                    source_offset: i as i64,
                    original_key: None,
                    original_value: blob.clone(),
                    reason: "schema".into(),
                    rule: "test".into(),
                    detail: format!("blob {i}"),
                    venue: Some("okx".into()),
                    instrument: None,
                    quarantined_at_us: now_us(),
                })
                .collect();
            send(
                &bench.producer,
                &bench.topic("trades.quarantine"),
                &framed(bench.ids["trades.quarantine"], "q", &blobs),
            )
            .await;
            sent_blobs += 50;
        }
        rss_peak = rss_peak.max(rss_kib(w.0.id()));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!((sent_trades, sent_blobs), (5_000, 1_500), "the outage traffic was sent");
    assert_eq!(bench.committed("trades", 3), committed_before, "nothing committed while ClickHouse was down");
    assert!(w.0.try_wait().unwrap().is_none(), "the writer waits for ClickHouse instead of exiting");
    let growth_mib = (rss_peak.saturating_sub(rss_before)) / 1024;
    eprintln!(
        "writer RSS {} MiB before the outage, peak growth {growth_mib} MiB while 150 MB arrived",
        rss_before / 1024
    );
    assert!(growth_mib < 100, "the writer held what it could not write: +{growth_mib} MiB");

    server.restart();
    bench
        .wait_for(
            &[("SELECT count() AS n FROM trades FINAL", 5_000), ("SELECT count() AS n FROM quarantine FINAL", 1_500)],
            180,
        )
        .await;
    // The writer's metrics: every acknowledged row once (no insert was acknowledged twice:
    // no kill here), the quarantined records by source topic and reason, and each trade's
    // latency from its receipt (ten minutes before it was sent) to its row acknowledged.
    let until = Instant::now() + Duration::from_secs(10);
    while bench.metric("sink_rows_written_total{table=\"quarantine\"}").await != Some(1_500.0) {
        assert!(Instant::now() < until, "the writer's /metrics never counted the 1 500 quarantine rows");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(bench.metric("sink_rows_written_total{table=\"trades\"}").await, Some(5_000.0));
    assert_eq!(bench.metric("dq_drop_counter_total{topic=\"raw.trades\",reason=\"schema\"}").await, Some(1_500.0));
    assert_eq!(bench.metric("event_end2end_latency_ms_count{table=\"trades\",venue=\"okx\"}").await, Some(5_000.0));
    assert_eq!(
        bench.metric("event_end2end_latency_ms_bucket{table=\"trades\",venue=\"okx\",le=\"60000\"}").await,
        Some(0.0)
    );
    let consumed = bench.metric(&format!("consumer_records_total{{topic=\"{}\"}}", bench.topic("trades"))).await;
    assert!(consumed.is_some_and(|n| n >= 5_000.0), "records read: {consumed:?}");
    // Every partition the writer read (the test's trades share one key, so one partition)
    // is read to its end.
    let scraped = reqwest::get(format!("http://{}/metrics", bench.metrics_listen)).await.unwrap().text().await.unwrap();
    let lag_prefix = format!("consumer_lag_records{{topic=\"{}\",", bench.topic("trades"));
    let lags: Vec<&str> = scraped.lines().filter(|l| l.starts_with(&lag_prefix)).collect();
    assert!(!lags.is_empty() && lags.iter().all(|l| l.ends_with("} 0")), "lag of the trades partitions:\n{scraped}");
    let health = reqwest::get(format!("http://{}/healthz", bench.metrics_listen)).await.unwrap();
    assert!(health.status().is_success());
    w.terminate();
    assert_eq!(bench.count("SELECT uniqExact(trade_id) AS n FROM trades FINAL").await, 5_000);
    assert_eq!(bench.committed("trades", 3), 5_000, "committed once ClickHouse took the rows");
    let log = std::fs::read_to_string(bench.log()).unwrap();
    assert!(log.contains("ClickHouse insert failed"), "the outage was logged:\n{log}");
    assert!(log.contains("ClickHouse insert succeeded; resuming"), "and the recovery:\n{log}");
}
