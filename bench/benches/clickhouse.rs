//! The ClickHouse writer's write path against the stack's ClickHouse, beside a raw insert of
//! the same rows in the same run: the `clickhouse` crate writing RowBinary rows built from
//! ready `Trade` values, 100 000 rows an insert, versus the writer's path from the framed
//! Avro records a consumer hands it (decode with the registered schema, batch, insert, same
//! batch size). Each side runs three times, alternating, into its own copy of the trades
//! table (emptied before each pass); the best pass of each counts.
//! `cargo bench -p tickwatch-bench --bench clickhouse` (brings the local stack up).

use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tickwatch_bench::{per_second, synthetic_trades};
use tickwatch_model::{wire, AvroRecord, Trade};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_sink_clickhouse::batch::{Pending, TableBatch};
use tickwatch_sink_clickhouse::rows::HotTable;

const ROWS: usize = 1_000_000;
const BATCH: usize = 100_000;

fn main() {
    let stack = tickwatch_testkit::stack();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let mut settings = stack.settings.clickhouse.clone();
    settings.database = format!("tickwatch_bench_{}", std::process::id());
    let ch = ClickHouse::new(&settings);
    let ddl = tickwatch_bench::repo_root().join("schemas/clickhouse");
    rt.block_on(ch.migrate(&ddl)).expect("migrations apply");
    rt.block_on(ch.execute("CREATE TABLE trades_raw AS trades")).expect("a copy of the trades table");
    let client = tickwatch_sink_clickhouse::run::client(&settings);
    let registry = RegistryClient::new(&stack.settings.registry.url);
    let id = rt.block_on(registry.register("bench.trades-value", Trade::SCHEMA_JSON)).expect("schema registers");

    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_micros() as i64;
    let trades = synthetic_trades(ROWS, now - 600_000_000);
    let framed: Vec<Vec<u8>> = trades.iter().map(|t| wire::frame(id, &t.to_avro().expect("encodes"))).collect();
    let raw_client = client.clone();

    let (mut raw_best, mut sink_best) = (0f64, 0f64);
    for _ in 0..3 {
        rt.block_on(ch.execute("TRUNCATE TABLE trades_raw")).expect("truncate");
        let start = Instant::now();
        for chunk in trades.chunks(BATCH) {
            rt.block_on(insert_raw(&raw_client, chunk)).expect("raw insert");
        }
        raw_best = raw_best.max(ROWS as f64 / start.elapsed().as_secs_f64());

        rt.block_on(ch.execute("TRUNCATE TABLE trades")).expect("truncate");
        let start = Instant::now();
        let mut batch = Pending::<Trade>::default();
        for chunk in framed.chunks(BATCH) {
            for payload in chunk {
                batch.push(payload, &registry, rt.handle()).expect("a trade");
            }
            rt.block_on(batch.insert(&client)).expect("sink insert");
            batch.clear();
        }
        sink_best = sink_best.max(ROWS as f64 / start.elapsed().as_secs_f64());
    }
    let count = |t: &str| rt.block_on(ch.query_rows(&format!("SELECT count() AS n FROM {t}"))).expect("count");
    println!("ClickHouse writer: {ROWS} trades, {BATCH} rows an insert, best of 3 passes each");
    println!("| path | rows/s | of raw |");
    println!("|---|---|---|");
    println!(
        "| writer: framed Avro → decode → batch → RowBinary insert | {} | {:.2} |",
        per_second(sink_best),
        sink_best / raw_best
    );
    println!("| raw: `clickhouse` crate insert of the same rows | {} | 1.00 |", per_second(raw_best));
    println!(
        "(rows in the tables after the last pass: {:?} / {:?})",
        count("trades")[0]["n"],
        count("trades_raw")[0]["n"]
    );
    let _ = rt.block_on(ch.execute(&format!("DROP DATABASE IF EXISTS `{}`", settings.database)));
}

/// The raw side: rows straight from ready `Trade` values.
async fn insert_raw(client: &clickhouse::Client, trades: &[Trade]) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<<Trade as HotTable>::Row>("trades_raw").await?;
    for t in trades {
        let sent = insert.write(&t.row());
        sent.await?;
    }
    insert.end().await
}
