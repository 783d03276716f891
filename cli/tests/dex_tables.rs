//! DEX swaps through the writers and the API on the real broker, registry, ClickHouse and S3
//! server. The input is what the EVM ingestor publishes through the DEX transform: swaps
//! PENDING (version 1) then CONFIRMED (2), PENDING then RETRACTED (3) by a reorg (one of them
//! included again by the new chain, in another block), one CONFIRMED at once and delivered
//! three times, one still PENDING, and one whose stale PENDING arrives after its CONFIRMED.
//! - `tickwatch sink clickhouse`, in three inserts with merges stopped: `dex_swaps_final` is
//!   exactly the confirmed swaps and `dex_swaps_mixed` the not-retracted ones at their latest
//!   version, every field exact; a swap whose amount is no integer is quarantined;
//!   `GET /api/v1/dex/swaps` reads the final layer, or the mixed one with `layer=mixed`.
//! - `tickwatch sink parquet`: the files hold the confirmed swaps only, each once, read back
//!   as the records they were written from; the others are counted and their offsets committed.

mod common;

use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickwatch_model::{AvroRecord, DexSwap, SwapStatus};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_sink_parquet::read::read_file;
use tickwatch_sink_parquet::store::Bucket;
use tickwatch_testkit::produce::send_records;
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{free_port, repo_root, stack, unique};
use SwapStatus::{Confirmed as C, Pending as P, Retracted as R};

const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");
/// Uniswap V3 WETH-USDC (odd swaps) and Uniswap V2 PEPE-WETH (even ones).
const POOL_A: &str = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640";
const POOL_B: &str = "0xa43fe16908251ee70ef74718545e4fe6c5ccec9f";
/// 2^256 − 1 without its last two digits: past any 128-bit column.
const BIG: &str = "1157920892373161954235709850086879078532699846656405640394575840079131296399";

/// Swap `n` (1..=9) at the version its status has, in block 21 000 000 + n, 12 s apart.
fn swap(n: i64, base_us: i64, status: SwapStatus) -> DexSwap {
    let v3 = n % 2 == 1;
    let block_time_us = base_us + n * 12_000_000;
    DexSwap {
        chain: "ethereum".into(),
        chain_id: 1,
        protocol: if v3 { "uniswap_v3" } else { "uniswap_v2" }.into(),
        pool: if v3 { POOL_A } else { POOL_B }.into(),
        instrument: if v3 { "WETH-USDC" } else { "PEPE-WETH" }.into(),
        block_number: 21_000_000 + n,
        block_hash: format!("0x{:064x}", 0xb10c_0000 + n),
        tx_hash: format!("0x{:064x}", 0x7e_0000 + n),
        log_index: n % 4 + 1,
        sender: format!("0x{:040x}", 0x5e + n),
        recipient: format!("0x{:040x}", 0xec + n),
        amount0_raw: format!("-340282366920938463463374607431768219{n:03}"),
        amount1_raw: format!("{}000000000000000000", n + 1),
        decimals0: if v3 { 6 } else { 18 },
        decimals1: 18,
        sqrt_price_x96: v3.then(|| format!("{BIG}{n:02}")),
        liquidity: v3.then(|| format!("1234567890123456789{n}")),
        tick: v3.then_some(-195_000 + n as i32),
        reserve0_raw: (!v3).then(|| format!("99{n}")),
        reserve1_raw: (!v3).then(|| format!("{BIG}{:02}", 20 + n)),
        price: format!("{}.{:018}", 3_000 + n, n * 7_919 + 1).parse().unwrap(),
        base_size: format!("0.{:018}", n * 104_729 + 1).parse().unwrap(),
        status,
        version: match status {
            P => 1,
            C => 2,
            R => 3,
        },
        block_time_us,
        receive_time_us: block_time_us + 500_123,
        source_lag_ms: 500,
    }
}

/// Swap 4 as the new chain included it after the reorg: another block of the same height.
fn moved(base_us: i64, status: SwapStatus) -> DexSwap {
    DexSwap { block_hash: format!("0x{:064x}", 0xf0_4c), log_index: 7, ..swap(4, base_us, status) }
}

/// What arrives, in three rounds.
fn rounds(base: i64) -> [Vec<DexSwap>; 3] {
    let s = |n, status| swap(n, base, status);
    [
        vec![s(1, P), s(2, P), s(3, P), s(4, P), s(5, C), s(6, P), s(7, C)],
        vec![s(1, C), s(2, C), s(3, R), s(4, R), moved(base, P), s(5, C), s(7, P)],
        vec![moved(base, C), s(5, C)],
    ]
}

/// The final layer, in chain order.
fn confirmed(base: i64) -> Vec<DexSwap> {
    vec![swap(1, base, C), swap(2, base, C), moved(base, C), swap(5, base, C), swap(7, base, C)]
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// A 64-bit integer, quoted or not.
fn int(v: &Value) -> i64 {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("not an integer: {v}"))
}

const COLUMNS: &str = "chain, chain_id, protocol, pool, instrument, block_number, block_hash, tx_hash, log_index, \
    sender, recipient, toString(amount0_raw) AS a0, toString(amount1_raw) AS a1, decimals0, decimals1, \
    toString(sqrt_price_x96) AS sqrt, toString(liquidity) AS liq, tick, toString(reserve0_raw) AS r0, \
    toString(reserve1_raw) AS r1, toString(price) AS p, toString(base_size) AS b, toString(status) AS st, version, \
    toUnixTimestamp64Micro(block_time) AS bt, toUnixTimestamp64Micro(receive_time) AS rt, source_lag_ms";

/// A row of [`COLUMNS`] as the record it was written from.
fn from_row(r: &Value) -> DexSwap {
    let text = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("{k} in {r}")).to_string();
    let opt = |k: &str| r[k].as_str().map(String::from);
    DexSwap {
        chain: text("chain"),
        chain_id: int(&r["chain_id"]),
        protocol: text("protocol"),
        pool: text("pool"),
        instrument: text("instrument"),
        block_number: int(&r["block_number"]),
        block_hash: text("block_hash"),
        tx_hash: text("tx_hash"),
        log_index: int(&r["log_index"]),
        sender: text("sender"),
        recipient: text("recipient"),
        amount0_raw: text("a0"),
        amount1_raw: text("a1"),
        decimals0: int(&r["decimals0"]) as i32,
        decimals1: int(&r["decimals1"]) as i32,
        sqrt_price_x96: opt("sqrt"),
        liquidity: opt("liq"),
        tick: r["tick"].as_i64().map(|t| t as i32),
        reserve0_raw: opt("r0"),
        reserve1_raw: opt("r1"),
        price: text("p").parse().unwrap(),
        base_size: text("b").parse().unwrap(),
        status: [P, C, R].into_iter().find(|s| format!("{s:?}").to_uppercase() == text("st")).unwrap(),
        version: int(&r["version"]),
        block_time_us: int(&r["bt"]),
        receive_time_us: int(&r["rt"]),
        source_lag_ms: int(&r["source_lag_ms"]),
    }
}

/// A swap as `GET /api/v1/dex/swaps` answers it.
fn api_item(s: &DexSwap) -> Value {
    json!({"chain": s.chain, "chain_id": s.chain_id, "protocol": s.protocol, "pool": s.pool,
        "instrument": s.instrument, "block_number": s.block_number, "block_hash": s.block_hash,
        "tx_hash": s.tx_hash, "log_index": s.log_index, "sender": s.sender, "recipient": s.recipient,
        "amount0_raw": s.amount0_raw, "amount1_raw": s.amount1_raw, "decimals0": s.decimals0,
        "decimals1": s.decimals1, "sqrt_price_x96": s.sqrt_price_x96, "liquidity": s.liquidity, "tick": s.tick,
        "reserve0_raw": s.reserve0_raw, "reserve1_raw": s.reserve1_raw, "price": s.price.to_string(),
        "base_size": s.base_size.to_string(), "status": format!("{:?}", s.status).to_uppercase(),
        "version": s.version, "block_time_ms": s.block_time_us / 1000, "receive_time_ms": s.receive_time_us / 1000,
        "source_lag_ms": s.source_lag_ms})
}

/// The test's `dex.swaps` topic (one partition, schema registered): its name and schema id.
async fn topic(prefix: &str) -> (String, u32) {
    let s = stack();
    let name = format!("{prefix}.dex.swaps");
    let spec = TopicSpec { name: name.clone(), partitions: 1, replication: 1, configs: vec![] };
    broker::create_topics(&s.broker(), &[spec]).await.unwrap();
    let registry = RegistryClient::new(&s.settings.registry.url);
    let id = registry.register(&format!("{name}-value"), DexSwap::SCHEMA_JSON).await.unwrap();
    (name, id)
}

/// `tickwatch <args>` with `settings`, its log under target/test-logs.
/// Ask `get` until `done` holds for its answer.
async fn until<T, F: std::future::Future<Output = T>>(what: &str, get: impl Fn() -> F, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let v = get().await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} never came");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A Prometheus sample of the process serving `/metrics` at `listen`.
async fn metric(listen: &str, series: impl AsRef<str>) -> Option<f64> {
    let text = reqwest::get(format!("http://{listen}/metrics")).await.ok()?.text().await.ok()?;
    text.lines().find(|l| l.starts_with(series.as_ref())).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_final_layer_holds_confirmed_swaps_and_the_mixed_layer_the_unretracted_ones() {
    let s = stack();
    let prefix = unique("dexch");
    let db = prefix.replace('-', "_");
    let settings = settings_with_clickhouse(s, &s.settings.clickhouse.url, &db);
    let out = Command::new(BIN).arg("--config").arg(&settings).arg("migrate").output().unwrap();
    assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    let ch = ClickHouse::new(&Settings::load(&settings).unwrap().clickhouse);
    // No merge folds versions away: the views alone must leave out what is superseded.
    ch.execute("SYSTEM STOP MERGES dex_swaps").await.unwrap();
    let (topic, id) = topic(&prefix).await;
    let sinks = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
    std::fs::write(&sinks, "clickhouse:\n  topics: [dex.swaps]\n  batch_rows: 100\n  batch_ms: 100\n").unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let (group, topic_prefix) = (format!("{prefix}-sink"), format!("{prefix}."));
    let sink_args = ["sink", "clickhouse", "--sinks", sinks.to_str().unwrap(), "--topic-prefix", &topic_prefix];
    let sink_args = [&sink_args[..], &["--group", &group, "--metrics-listen", &metrics][..]].concat();
    let mut writer = common::spawn(&settings, &prefix, "sink", &sink_args);
    let producer = ReliableProducer::new(&s.broker()).unwrap();
    let base = now_us() - 2 * 3_600_000_000;
    let count = |sql: &'static str| {
        let ch = ch.clone();
        async move { ch.query_rows(sql).await.map(|r| int(&r[0]["n"])).unwrap_or(-1) }
    };
    // Each round inserted before the next is sent: the versions land in parts of their own.
    let mut sent = 0;
    for (i, round) in rounds(base).iter().enumerate() {
        let mut records = round.clone();
        if i == 2 {
            // Not an integer: the row could not be written; it goes to quarantine instead.
            records.push(DexSwap { amount0_raw: "12abc".into(), ..swap(9, base, C) });
        }
        send_records(&producer, &topic, id, |s: &DexSwap| s.instrument.clone(), &records).await;
        sent += round.len() as i64;
        let want = sent;
        until("the round's rows", || count("SELECT count() AS n FROM dex_swaps"), |n| *n == want).await;
    }
    until("the quarantined swap", || count("SELECT count() AS n FROM quarantine"), |n| *n == 1).await;
    let q = ch.query_rows("SELECT reason, rule, detail FROM quarantine").await.unwrap();
    assert_eq!((q[0]["reason"].as_str(), q[0]["rule"].as_str()), (Some("undecodable"), Some("clickhouse-sink")));
    assert!(q[0]["detail"].as_str().unwrap().contains("amount0_raw `12abc`"), "{q:?}");
    let order = "ORDER BY block_time, chain_id, block_number, log_index, block_hash";
    let read = |view: &str| {
        let (ch, sql) = (ch.clone(), format!("SELECT {COLUMNS} FROM {view} {order}"));
        async move { ch.query_rows(&sql).await.unwrap().iter().map(from_row).collect::<Vec<_>>() }
    };
    assert_eq!(read("dex_swaps_final").await, confirmed(base), "the final layer: confirmed swaps, exact");
    let mut mixed = confirmed(base);
    mixed.insert(4, swap(6, base, P));
    assert_eq!(read("dex_swaps_mixed").await, mixed, "the mixed layer: pending and confirmed, none retracted");
    // Every version is still stored: the layers' answers did not come from merges.
    assert_eq!(count("SELECT count() AS n FROM dex_swaps").await, 16);
    let parts =
        "SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = 'dex_swaps' AND active";
    assert!(count(parts).await >= 3, "one part per round at least");
    // The writer's metrics: each row once, and each swap's receipt-to-row latency per protocol.
    let rows = || metric(&metrics, "sink_rows_written_total{table=\"dex_swaps\"}");
    until("the acknowledged rows counted", rows, |n| *n == Some(16.0)).await;
    let v3 = metric(&metrics, "event_end2end_latency_ms_count{table=\"dex_swaps\",venue=\"uniswap_v3\"}").await;
    let v2 = metric(&metrics, "event_end2end_latency_ms_count{table=\"dex_swaps\",venue=\"uniswap_v2\"}").await;
    assert_eq!((v3, v2), (Some(9.0), Some(7.0)));
    writer.terminate();

    // The API: the final layer by default, the mixed one on request, paged, exact.
    let api_cfg = std::env::temp_dir().join(format!("{prefix}-api.yaml"));
    let api_yaml = format!(
        "dashboard_dir: {}\nhot: {{follow: false}}\nrate_limit: {{per_second: 1000, burst: 1000}}\n",
        repo_root().join("api/dashboard").display()
    );
    std::fs::write(&api_cfg, api_yaml).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let api_metrics = format!("127.0.0.1:{}", free_port());
    let api_args =
        ["api", "serve", "--api", api_cfg.to_str().unwrap(), "--listen", &listen, "--metrics-listen", &api_metrics];
    let _api = common::spawn(&settings, &prefix, "api", &api_args);
    let base_url = format!("http://{listen}");
    let get = |path: String| {
        let url = format!("{base_url}{path}");
        async move {
            match reqwest::get(&url).await {
                Ok(r) => (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null)),
                Err(_) => (0, Value::Null),
            }
        }
    };
    let range = format!("from={}&to={}", base / 1000, base / 1000 + 3_600_000);
    until("the API", || get("/readyz".into()), |(status, _)| *status == 200).await;
    let items = |v: &Value| v["items"].as_array().unwrap().clone();
    let want = |swaps: &[DexSwap]| swaps.iter().map(api_item).collect::<Vec<_>>();
    // The pool in any case: addresses are stored lowercase.
    let (status, a) =
        get(format!("/api/v1/dex/swaps?pool={}&{range}", POOL_A.to_uppercase().replace("0X", "0x"))).await;
    assert_eq!(status, 200, "{a}");
    let pool_a: Vec<DexSwap> = confirmed(base).into_iter().filter(|s| s.pool == POOL_A).collect();
    assert_eq!(items(&a), want(&pool_a));
    let (_, b) = get(format!("/api/v1/dex/swaps?instrument=PEPE-WETH&layer=mixed&{range}")).await;
    let pool_b: Vec<DexSwap> = mixed.iter().filter(|s| s.pool == POOL_B).cloned().collect();
    assert_eq!(items(&b), want(&pool_b));
    assert_eq!(items(&b).iter().filter(|i| i["status"] == "PENDING").count(), 1, "{b}");
    // Every confirmed swap, two a page.
    let (mut all, mut cursor) = (Vec::new(), String::new());
    loop {
        let (_, page) = get(format!("/api/v1/dex/swaps?{range}&limit=2{cursor}")).await;
        all.extend(items(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(all, want(&confirmed(base)));
    for (query, parameter) in [("layer=raw", "layer"), ("pool=0x12", "pool")] {
        let (status, body) = get(format!("/api/v1/dex/swaps?{query}")).await;
        assert_eq!((status, body["error"]["parameter"].as_str()), (400, Some(parameter)), "{body}");
    }
    let _ = ch.execute(&format!("DROP DATABASE IF EXISTS `{db}`")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_holds_the_confirmed_swaps_once_and_commits_past_the_others() {
    let s = stack();
    // Short names: the local S3 server keeps each key, base64, in one file name (≤ 255 bytes).
    let prefix = unique("dq");
    let key_prefix = prefix.rsplit('-').next().unwrap().to_string();
    for k in ["TICKWATCH_S3_ACCESS_KEY", "TICKWATCH_S3_SECRET_KEY"] {
        std::env::set_var(k, s.var(k).unwrap());
    }
    let (topic, id) = topic(&prefix).await;
    // Ten minutes into an hour: every swap in one hour's files.
    let hour = 3_600_000_000;
    let base = (now_us() - 3 * hour) / hour * hour + 600_000_000;
    let [first, second, third] = rounds(base);
    // The last records are a stale PENDING and a RETRACTED: withheld, yet committed.
    let mut records: Vec<DexSwap> = [first, second, third].concat();
    records.sort_by_key(|r| r.status == P || r.status == R);
    let producer = ReliableProducer::new(&s.broker()).unwrap();
    send_records(&producer, &topic, id, |s: &DexSwap| s.instrument.clone(), &records).await;
    let sinks = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
    let yaml = format!(
        "parquet:\n  topics: [dex.swaps]\n  key_prefix: {key_prefix}/\n  idle_close_ms: 300\n  retry_max_ms: 1000\n"
    );
    std::fs::write(&sinks, yaml).unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let (group, topic_prefix) = (format!("{prefix}-pq"), format!("{prefix}."));
    let sinks_arg = sinks.to_str().unwrap();
    let args = [
        "sink",
        "parquet",
        "--sinks",
        sinks_arg,
        "--topic-prefix",
        &topic_prefix,
        "--group",
        &group,
        "--metrics-listen",
        &metrics,
    ];
    let mut writer = common::spawn(&s.settings_path, &prefix, "pq", &args);
    let committed = || {
        let c: BaseConsumer = broker::client_config(&s.broker()).set("group.id", &group).create().unwrap();
        let mut tpl = rdkafka::TopicPartitionList::new();
        tpl.add_partition(&topic, 0);
        let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
        let offset = got.elements()[0].offset();
        async move {
            if let rdkafka::Offset::Offset(o) = offset {
                o
            } else {
                -1
            }
        }
    };
    let total = records.len() as i64;
    until("the commit past the last record", committed, |o| *o == total).await;
    let withheld = |reason: &str| {
        metric(&metrics, format!("sink_records_withheld_total{{dataset=\"dex_swaps\",reason=\"{reason}\"}}"))
    };
    let counts = (withheld("pending").await, withheld("retracted").await, withheld("duplicate").await);
    assert_eq!(counts, (Some(7.0), Some(2.0), Some(2.0)), "pending, retracted, repeats");
    writer.terminate();

    let bucket = Bucket::new(&Settings::load(&s.settings_path).unwrap().s3).unwrap();
    let keys = bucket.keys(&format!("{key_prefix}/")).await.unwrap();
    let mut stored = Vec::new();
    for key in &keys {
        let (y, m, d) = tickwatch_model::time::civil_from_days(base.div_euclid(86_400_000_000));
        let (venue, instrument) =
            if key.contains("venue=uniswap_v3") { ("uniswap_v3", "WETH-USDC") } else { ("uniswap_v2", "PEPE-WETH") };
        let folder = format!("{key_prefix}/dex_swaps/dt={y:04}-{m:02}-{d:02}/venue={venue}/instrument={instrument}/");
        assert!(key.starts_with(&folder) && key.contains(&format!("-{topic}-p0-")), "{key}");
        stored.extend(read_file::<DexSwap>(bucket.get(key).await.unwrap()).unwrap().into_iter().map(|(_, _, r)| r));
    }
    stored.sort_by_key(|r| (r.block_time_us, r.log_index));
    assert_eq!(stored, confirmed(base), "the confirmed swaps, each once, exact");
}
