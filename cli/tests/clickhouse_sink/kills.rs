//! 22 SIGKILLs of the writer while records keep arriving.

use crate::harness::*;
use crate::records::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tickwatch_model::{ReferencePrice, Trade};
use tickwatch_testkit::{stack, unique};

#[tokio::test(flavor = "multi_thread")]
async fn twenty_two_kills_lose_no_row_and_final_has_no_duplicate() {
    let s = stack();
    let db = unique("sinkdb").replace('-', "_");
    let topics = [("trades", 3), ("reference", 1), ("kline.1m", 1), ("dq.minute", 1), ("trades.quarantine", 1)];
    let sink = "clickhouse:\n  topics: [trades, reference, kline.1m, dq.minute, trades.quarantine]\n  \
                batch_rows: 300\n  batch_ms: 100\n  retry_max_ms: 2000\n";
    let bench = Harness::new("chs", &s.settings.clickhouse.url, &db, &topics, sink).await;
    let base = now_us() - 30 * 60_000_000;
    let mut rng = fastrand::Rng::with_seed(22);
    let rounds = 22u64;
    let mut garbage = Vec::new();
    for round in 0..rounds {
        let trades: Vec<Trade> = (round * 1_000..(round + 1) * 1_000).map(|i| trade(i, base)).collect();
        send(&bench.producer, &bench.topic("trades"), &framed(bench.ids["trades"], "k", &trades)).await;
        // Mark and index of the same instrument at the same event time: two rows.
        let refs: Vec<ReferencePrice> = (round * 10..(round + 1) * 10)
            .flat_map(|i| [reference(i, base, true), reference(i, base, false)])
            .collect();
        send(&bench.producer, &bench.topic("reference"), &framed(bench.ids["reference"], "r", &refs)).await;
        // A new bar each round, and a correction (version 2) of the previous round's bar.
        let mut bars = vec![kline(round, base, 1)];
        if round > 0 {
            bars.push(kline(round - 1, base, 2));
        }
        send(&bench.producer, &bench.topic("kline.1m"), &framed(bench.ids["kline.1m"], "b", &bars)).await;
        send(&bench.producer, &bench.topic("dq.minute"), &framed(bench.ids["dq.minute"], "q", &[quality(round, base)]))
            .await;
        if round % 5 == 0 {
            // Not a trade: kept in the quarantine table, not lost, not blocking.
            let junk = format!("not avro, round {round}").into_bytes();
            send(&bench.producer, &bench.topic("trades"), &[("junk".into(), junk.clone())]).await;
            garbage.push(junk);
        }
        // Killed at a random moment once it is writing (rows arriving), so kills land
        // between reads, inserts and commits.
        let written = bench.count("SELECT count() AS n FROM trades").await;
        let mut w = bench.sink();
        let deadline = Instant::now() + Duration::from_secs(60);
        while bench.count("SELECT count() AS n FROM trades").await == written {
            assert!(Instant::now() < deadline, "round {round}: the writer wrote nothing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..400))).await;
        w.0.kill().unwrap();
        w.0.wait().unwrap();
    }
    let n_trades = rounds * 1_000;
    let mut w = bench.sink();
    bench
        .wait_for(
            &[
                ("SELECT count() AS n FROM trades FINAL", n_trades),
                ("SELECT count() AS n FROM reference_prices FINAL", rounds * 20),
                ("SELECT count() AS n FROM klines FINAL", rounds),
                ("SELECT count() AS n FROM klines FINAL WHERE version = 2", rounds - 1),
                ("SELECT count() AS n FROM data_quality_minute FINAL", rounds),
                ("SELECT count() AS n FROM quarantine FINAL", garbage.len() as u64),
            ],
            180,
        )
        .await;
    w.terminate();
    // The kills did interrupt work: some rows were written more than once, and FINAL (the
    // natural key) keeps one of each.
    // Rows inserted, from the writer's own log (background merges fold repeats away, so the
    // table cannot tell): more than there are trades means kills fell between an insert and
    // its commit, and the replay wrote those rows again.
    let log = std::fs::read_to_string(bench.log()).unwrap();
    let inserted: u64 = log
        .lines()
        .filter(|l| l.contains("inserted") && l.contains("table=\"trades\""))
        .filter_map(|l| l.split("rows=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
        .sum();
    eprintln!("{n_trades} trades; {inserted} trade rows inserted over {rounds} kills");
    assert!(inserted > n_trades, "no kill fell between an insert and its commit; the test proved nothing");
    assert_eq!(bench.count("SELECT uniqExact(trade_id) AS n FROM trades FINAL").await, n_trades);
    // Exact decimals, every trade.
    let rows = bench
        .clickhouse
        .query_rows("SELECT trade_id, toString(price) AS p, toString(size) AS s, toUnixTimestamp64Micro(event_time) AS t FROM trades FINAL")
        .await
        .unwrap();
    let by_id: HashMap<String, &serde_json::Value> =
        rows.iter().map(|r| (r["trade_id"].as_str().unwrap().to_string(), r)).collect();
    for i in 0..n_trades {
        let t = trade(i, base);
        let r = by_id.get(&t.trade_id).unwrap_or_else(|| panic!("trade {} missing", t.trade_id));
        assert_eq!((dec(&r["p"]), dec(&r["s"])), (t.price, t.size), "trade {}", t.trade_id);
        assert_eq!(int(&r["t"]), t.event_time_us);
    }
    // The corrected bars kept their highest version's content.
    let bars = bench
        .clickhouse
        .query_rows("SELECT version, toString(close) AS c, trade_count FROM klines FINAL ORDER BY open_time")
        .await
        .unwrap();
    for (i, b) in bars.iter().enumerate() {
        let want = kline(i as u64, base, if (i as u64) < rounds - 1 { 2 } else { 1 });
        assert_eq!(dec(&b["c"]), want.close, "bar {i}");
    }
    let q = bench
        .clickhouse
        .query_rows("SELECT reason, rule, original_value FROM quarantine FINAL ORDER BY source_offset")
        .await
        .unwrap();
    for (row, junk) in q.iter().zip(&garbage) {
        assert_eq!((row["reason"].as_str(), row["rule"].as_str()), (Some("undecodable"), Some("clickhouse-sink")));
        assert_eq!(row["original_value"].as_str().unwrap().as_bytes(), junk.as_slice());
    }
    assert_eq!(bench.committed("trades", 3), n_trades as i64 + garbage.len() as i64, "every record committed");
    let _ = bench.clickhouse.execute(&format!("DROP DATABASE IF EXISTS `{db}`")).await;
}
