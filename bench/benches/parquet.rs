//! The Parquet writer's path against the stack's S3 server, beside a raw write of the same
//! rows in the same run. The writer's path starts from the framed Avro records a consumer
//! hands it: decode with the registered schema, gather per file (hour, venue, instrument),
//! encode each file as zstd Parquet, put it. The raw side starts from ready `Trade` values
//! already grouped per file and only encodes and puts them. The floor below both is putting
//! the already-encoded files. Each side runs three times, alternating, into its own folder;
//! the best pass of each counts.
//! `cargo bench -p tickwatch-bench --bench parquet` (brings the local stack up).

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tickwatch_bench::{per_second, synthetic_trades};
use tickwatch_model::{wire, AvroRecord, Trade};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_sink_parquet::columns::Source;
use tickwatch_sink_parquet::files::{encode, files_for, Decoded};
use tickwatch_sink_parquet::layout::FileKey;
use tickwatch_sink_parquet::store::Bucket;
use tickwatch_sink_parquet::Dataset;

const ROWS: usize = 1_000_000;
const TOPIC: &str = "bench.trades";
/// The writer's default zstd level and multipart part size.
const ZSTD: i32 = 3;
const PART_BYTES: usize = 8 << 20;

fn main() {
    let stack = tickwatch_testkit::stack();
    for k in ["TICKWATCH_S3_ACCESS_KEY", "TICKWATCH_S3_SECRET_KEY"] {
        std::env::set_var(k, stack.var(k).expect("the stack's S3 keys"));
    }
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let bucket = Bucket::new(&stack.settings.s3).expect("the stack's bucket");
    let registry = RegistryClient::new(&stack.settings.registry.url);
    let id = rt.block_on(registry.register(&format!("{TOPIC}-value"), Trade::SCHEMA_JSON)).expect("schema registers");

    // About 200 s of event time of 50 instruments: a file per instrument and hour.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_micros() as i64;
    let trades = synthetic_trades(ROWS, now - 5 * 3_600_000_000);
    let span_h = (trades.last().unwrap().event_time_us - trades[0].event_time_us) as f64 / 3.6e9;
    let framed: Vec<Vec<u8>> = trades.iter().map(|t| wire::frame(id, &t.to_avro().expect("encodes"))).collect();
    let mut grouped: HashMap<FileKey, Vec<(Source, Trade)>> = HashMap::new();
    for (offset, t) in trades.iter().enumerate() {
        grouped.entry(file_key(t)).or_default().push((Source { partition: 0, offset: offset as i64 }, t.clone()));
    }
    let run = std::process::id();

    let (mut writer_best, mut raw_best, mut floor_best) = (0f64, 0f64, 0f64);
    let mut bytes = 0usize;
    for pass in 0..3 {
        let start = Instant::now();
        let mut files = files_for(Dataset::Trades);
        for (offset, payload) in framed.iter().enumerate() {
            let source = Source { partition: 0, offset: offset as i64 };
            let decoded = files.decode(TOPIC, source, payload, &registry, rt.handle()).expect("a trade");
            let Decoded::Held(key, _) = decoded else { panic!("a trade is never withheld") };
            files.keep(key);
        }
        let keys: Vec<FileKey> = files.open().into_iter().map(|(k, _, _)| k.clone()).collect();
        let mut encoded = Vec::with_capacity(keys.len());
        for key in &keys {
            let closed = files.close(key, ZSTD).expect("open").expect("encodes");
            let object = key.object(&format!("bench-{run}/writer-{pass}/"), closed.first, closed.last);
            rt.block_on(bucket.put(&object, closed.parquet.clone(), PART_BYTES)).expect("put");
            encoded.push((object, closed.parquet));
        }
        writer_best = writer_best.max(ROWS as f64 / start.elapsed().as_secs_f64());

        let start = Instant::now();
        for (key, rows) in &grouped {
            let body = encode(TOPIC, rows, ZSTD).expect("encodes");
            let object =
                key.object(&format!("bench-{run}/raw-{pass}/"), rows[0].0.offset, rows.last().unwrap().0.offset);
            rt.block_on(bucket.put(&object, body, PART_BYTES)).expect("put");
        }
        raw_best = raw_best.max(ROWS as f64 / start.elapsed().as_secs_f64());

        let start = Instant::now();
        for (object, body) in &encoded {
            rt.block_on(bucket.put(&object.replace("/writer-", "/floor-"), body.clone(), PART_BYTES)).expect("put");
        }
        floor_best = floor_best.max(ROWS as f64 / start.elapsed().as_secs_f64());
        bytes = encoded.iter().map(|(_, b)| b.len()).sum();
    }
    println!(
        "Parquet writer: {ROWS} trades over {span_h:.1} h of 50 instruments, {} files, {:.1} MB of zstd Parquet \
         ({:.1} bytes a row), best of 3 passes each",
        grouped.len(),
        bytes as f64 / 1e6,
        bytes as f64 / ROWS as f64
    );
    println!("| path | rows/s | of raw |");
    println!("|---|---|---|");
    println!(
        "| writer: framed Avro → decode → files → zstd Parquet → S3 put | {} | {:.2} |",
        per_second(writer_best),
        writer_best / raw_best
    );
    println!("| raw: ready rows, grouped → zstd Parquet → S3 put | {} | 1.00 |", per_second(raw_best));
    println!("| floor: S3 put of the encoded files only | {} | {:.2} |", per_second(floor_best), floor_best / raw_best);
    let stored = rt.block_on(bucket.keys(&format!("bench-{run}/writer-2/"))).expect("list").len();
    assert_eq!(stored, grouped.len(), "the writer stored one file per hour and instrument");
}

fn file_key(t: &Trade) -> FileKey {
    FileKey {
        dataset: Dataset::Trades,
        hour: FileKey::hour_of(t.event_time_us),
        venue: t.venue.clone(),
        instrument: t.instrument.clone(),
        topic: TOPIC.into(),
        partition: 0,
    }
}
