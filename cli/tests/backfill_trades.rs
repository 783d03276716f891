//! `tickwatch backfill --kind trades` against the fake venues' REST trade history (every trade
//! of their recordings): Binance's `aggTrades` read window by window and, past a page, by id;
//! OKX's `history-trades` newest first, by time and then by trade id, within a request limit.
//! Every trade of the range arrives once, as the live ingestor publishes it (key, dedup
//! header, the trade's own time on the broker); the real trade transform and ClickHouse
//! writer take them to the trades table, and a second backfill leaves the same rows.

mod common;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tickwatch_fakes::synthetic::{Event, Synthetic};
use tickwatch_model::{wire, AvroRecord, Decimal, RawTrade, TakerSide};
use tickwatch_runtime::broker::{self, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::Settings;
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{repo_root, stack, unique, ChildGuard};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");
const MINUTE: i64 = 60_000;

/// (trade id, price, size, taker side, event time µs): what a venue says of a trade.
type Said = (String, Decimal, Decimal, TakerSide, i64);

/// Where the markets start: four hours ago, on the minute. Recent, because the hot trades
/// table keeps a week (older rows expire as they are inserted).
fn start_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let start = now - 4 * 3_600_000;
    start - start % MINUTE
}

/// A seeded market of one symbol on `venue` from `start`, served by its fake (REST limit
/// `rest_limit` a second, 0: none); the trades it made in `[from, to)`, by trade id.
fn market(
    prefix: &str,
    venue: &str,
    symbol: &str,
    (start, minutes, per_second): (i64, u64, f64),
    (from, to): (i64, i64),
    rest_limit: u32,
) -> (ChildGuard, String, BTreeMap<String, Said>) {
    let synthetic = Synthetic {
        seed: 5,
        instruments: 1,
        seconds: minutes * 60,
        trades_per_second: per_second,
        depth_per_second: 0.1,
    };
    let dir = std::env::temp_dir().join(format!("{prefix}-{venue}"));
    synthetic.write_as(venue, &dir, &[symbol.to_string()], start).unwrap();
    let (_, events) = synthetic.events_from(start);
    let expected = events
        .iter()
        .filter_map(|e| match e {
            Event::Trade { ms, id, px, qty, buy, .. } if (from..to).contains(ms) => {
                let side = if *buy { TakerSide::Buy } else { TakerSide::Sell };
                Some((id.to_string(), (id.to_string(), px.parse().unwrap(), qty.parse().unwrap(), side, ms * 1000)))
            }
            _ => None,
        })
        .collect();
    let (fake, _ws, rest) = common::fake_venue(venue, &dir, &["--rest-limit", &rest_limit.to_string()]);
    (fake, rest, expected)
}

fn run(settings: &std::path::Path, args: &[String]) -> Output {
    Command::new(BIN).arg("--config").arg(settings).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `tickwatch backfill --kind trades` of `[from, to)` into `<prefix>.raw.trades`.
fn backfill(
    settings: &std::path::Path,
    prefix: &str,
    venue: &str,
    inst: &str,
    rest: &str,
    range: (i64, i64),
) -> Output {
    let checkpoint = std::env::temp_dir().join(format!("{}.json", unique(prefix)));
    let args = format!(
        "backfill --kind trades --venue {venue} --instrument {inst} --from {} --to {} --rest-url {rest} \
         --topic-prefix {prefix}. --chunk-minutes 45 --rate 20 --checkpoint {}",
        range.0,
        range.1,
        checkpoint.display()
    );
    let out = run(settings, &args.split_whitespace().map(String::from).collect::<Vec<_>>());
    assert!(out.status.success(), "{args}: {}", text(&out.stderr));
    out
}

/// Every raw trade in `<prefix>.raw.trades`, after `quiet` without a new one, with its key,
/// dedup header and broker time.
fn raw_trades(prefix: &str, quiet: Duration) -> Vec<(RawTrade, String, String, i64)> {
    let c: BaseConsumer = broker::client_config(&stack().broker()).set("group.id", unique("reader")).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&format!("{prefix}.raw.trades"), 0, Offset::Offset(0)).unwrap();
    c.assign(&tpl).unwrap();
    let (mut out, mut last) = (Vec::new(), Instant::now());
    while last.elapsed() < quiet {
        let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
        let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
        let dedup = m.headers().and_then(|h| h.iter().find(|h| h.key == "dedup_key")).and_then(|h| h.value);
        out.push((
            RawTrade::from_avro(datum).unwrap(),
            text(m.key().unwrap()),
            text(dedup.unwrap_or_default()),
            m.timestamp().to_millis().unwrap(),
        ));
        last = Instant::now();
    }
    out
}

/// What the raw trades of `venue` say, by trade id; each must be published as live.
fn said_by(raw: &[(RawTrade, String, String, i64)], venue: &str, symbol: &str) -> BTreeMap<String, Said> {
    let mut out = BTreeMap::new();
    for (t, key, dedup, broker_ms) in raw.iter().filter(|r| r.0.venue == venue) {
        assert_eq!((key.as_str(), t.symbol.as_str()), (symbol, symbol));
        assert_eq!(dedup, &format!("{venue}|{symbol}|trades|{}", t.trade_id));
        assert_eq!(*broker_ms, t.event_time_us / 1000, "the trade's own time on the broker");
        assert!(t.receive_time_us > t.event_time_us, "received when backfilled");
        let said = (t.trade_id.clone(), t.price, t.size, t.taker_side, t.event_time_us);
        assert!(out.insert(t.trade_id.clone(), said).is_none(), "trade {} twice", t.trade_id);
    }
    out
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

/// The trades table (FINAL, or every inserted row), as (venue, trade id) → (price, size).
async fn table(ch: &ClickHouse, final_: bool) -> Vec<(String, String, Decimal, Decimal)> {
    let sql = format!(
        "SELECT venue, trade_id, toString(price) AS p, toString(size) AS s FROM trades {} ORDER BY venue, trade_id",
        if final_ { "FINAL" } else { "" }
    );
    let rows = ch.query_rows(&sql).await.unwrap();
    let s = |r: &Value, f: &str| r[f].as_str().unwrap().to_string();
    rows.iter()
        .map(|r| (s(r, "venue"), s(r, "trade_id"), s(r, "p").parse().unwrap(), s(r, "s").parse().unwrap()))
        .collect()
}

/// The trades table once it holds at least `want` rows (FINAL, or every inserted row).
async fn wait_rows(
    ch: &ClickHouse,
    want: usize,
    final_: bool,
    prefix: &str,
) -> Vec<(String, String, Decimal, Decimal)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rows = table(ch, final_).await;
        if rows.len() >= want {
            return rows;
        }
        assert!(Instant::now() < deadline, "{} of {want} rows; logs in target/test-logs/{prefix}-*", rows.len());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_trades_page_by_window_and_by_id_and_reach_clickhouse_once() {
    let s = stack();
    let prefix = unique("bft");
    // Spot: 900 trades an hour, each hour's window one page. USD-M: 4 a second, so a window
    // overflows its page and the rest is read by id.
    let start = start_ms();
    let spot_range = (start + 10 * MINUTE, start + 140 * MINUTE);
    let (_spot, spot_rest, spot) = market(&prefix, "binance", "BTCUSDT", (start, 150, 0.25), spot_range, 0);
    let usdm_range = (start + 2 * MINUTE, start + 18 * MINUTE);
    let (_usdm, usdm_rest, usdm) = market(&prefix, "binance-usdm", "BTCUSDT", (start, 20, 4.0), usdm_range, 0);
    assert!(spot.len() > 1_500 && usdm.len() > 3_000, "{} spot, {} usd-m trades", spot.len(), usdm.len());

    let database = prefix.replace('-', "_");
    let settings = settings_with_clickhouse(s, &s.settings.clickhouse.url, &database);
    assert!(run(&settings, &words("migrate")).status.success());
    let specs: Vec<TopicSpec> = ["raw.trades", "trades", "raw.trades.quarantine"]
        .iter()
        .map(|t| TopicSpec { name: format!("{prefix}.{t}"), partitions: 1, replication: 1, configs: vec![] })
        .collect();
    broker::create_topics(&s.broker(), &specs).await.unwrap();

    let out = backfill(&settings, &prefix, "binance", "BTC-USDT", &spot_rest, spot_range);
    let said = text(&out.stdout);
    let topic = format!("{prefix}.raw.trades");
    assert!(
        said.starts_with(&format!(
            "backfilled {} trades of binance BTC-USDT [{}, {}) into {topic}",
            spot.len(),
            spot_range.0,
            spot_range.1
        )),
        "{said}"
    );
    assert!(text(&out.stderr).contains("100% 130/130 min"), "{}", text(&out.stderr));
    backfill(&settings, &prefix, "binance-usdm", "BTC-USDT-PERP", &usdm_rest, usdm_range);
    let raw = raw_trades(&prefix, Duration::from_secs(3));
    assert_eq!(said_by(&raw, "binance", "BTCUSDT"), spot, "every spot trade of the range, once, as the venue said it");
    assert_eq!(said_by(&raw, "binance-usdm", "BTCUSDT"), usdm, "every USD-M trade of the range, once");
    assert!(raw.iter().all(|(t, ..)| (t.market == "spot") == (t.venue == "binance")));

    // Through the trade transform and the ClickHouse writer, like live trades.
    let wasm = repo_root().join("target/wasm32-wasip1/wasm/tw-trades.wasm");
    assert!(wasm.exists(), "{} is missing: run `make transforms` first", wasm.display());
    let p = format!("{prefix}.");
    let _host = common::spawn(
        &settings,
        &prefix,
        "host",
        &words(&format!(
            "transform run --wasm {} --input {p}raw.trades --output {p}trades --output {p}raw.trades.quarantine \
             --group {p}host --metrics-listen 127.0.0.1:0",
            wasm.display()
        )),
    );
    let sinks_cfg = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
    std::fs::write(&sinks_cfg, "clickhouse: {topics: [trades], batch_ms: 200}\n").unwrap();
    let _sink = common::spawn(
        &settings,
        &prefix,
        "sink",
        &words(&format!(
            "sink clickhouse --sinks {} --topic-prefix {p} --group {p}sink --metrics-listen 127.0.0.1:0",
            sinks_cfg.display()
        )),
    );
    let ch = ClickHouse::new(&Settings::load(&settings).unwrap().clickhouse);
    let total = spot.len() + usdm.len();
    let rows = wait_rows(&ch, total, true, &prefix).await;
    let expected: Vec<(String, String, Decimal, Decimal)> = [("binance", &spot), ("binance-usdm", &usdm)]
        .iter()
        .flat_map(|(venue, trades)| trades.values().map(|t| (venue.to_string(), t.0.clone(), t.1, t.2)))
        .collect();
    let mut expected = expected;
    expected.sort();
    assert_eq!(rows, expected, "the trades table holds each trade once, exactly");

    // The same range again: every row inserted twice, the table the same.
    backfill(&settings, &prefix, "binance", "BTC-USDT", &spot_rest, spot_range);
    wait_rows(&ch, total + spot.len(), false, &prefix).await;
    assert_eq!(table(&ch, true).await, expected, "a second backfill leaves the same rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_trades_page_backward_within_the_limit_and_bybit_names_the_fix() {
    let s = stack();
    let prefix = unique("oft");
    let start = start_ms();
    let range = (start + 3 * MINUTE, start + 27 * MINUTE);
    // 2 trades a second: 36 pages of 100, from a venue that answers 5 requests a second.
    let (_okx, rest, expected) = market(&prefix, "okx", "BTC-USDT", (start, 30, 2.0), range, 5);
    assert!(expected.len() > 2_500, "{} trades", expected.len());
    let spec = TopicSpec { name: format!("{prefix}.raw.trades"), partitions: 1, replication: 1, configs: vec![] };
    broker::create_topics(&s.broker(), &[spec]).await.unwrap();

    let out = backfill(&s.settings_path, &prefix, "okx", "BTC-USDT", &rest, range);
    let said = text(&out.stdout);
    assert!(said.starts_with(&format!("backfilled {} trades of okx BTC-USDT", expected.len())), "{said}");
    let waits: u64 = said.rsplit(", ").next().unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(waits >= 1, "20 requests a second meet a limit of 5: {said}");
    let raw = raw_trades(&prefix, Duration::from_secs(3));
    assert_eq!(said_by(&raw, "okx", "BTC-USDT"), expected, "every trade of the range, once, as the venue said it");
    assert!(raw.iter().all(|(t, ..)| t.market == "spot" && t.sequence == t.trade_id.parse().ok()));

    // Bybit keeps no trade history on REST: the refusal names what to do instead.
    let out = run(
        &s.settings_path,
        &words(&format!("backfill --kind trades --venue bybit --instrument BTC-USDT-PERP --from {}", range.0)),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--kind klines"), "{}", text(&out.stderr));
}
