//! `tickwatch ingest` against the fake Binance replaying, at its own pace, a synthetic market
//! in which one stream (ETH-USDT trades) stops for a while as the others go on over the same
//! socket: the `signals` topic gets that stream's silence (started, growing, ended by its
//! next trade) and nothing for the streams that kept sending.

mod common;

use common::{fake_venue_at, ingest, log_tail, metric, topics, SERIAL};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tickwatch_fakes::synthetic::{binance, Event, Synthetic};
use tickwatch_model::{wire, AvroRecord, Signal};
use tickwatch_runtime::broker;
use tickwatch_testkit::{free_port, stack, unique, wait_http};

const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];
/// ETH (instrument 1) trades nothing from 10 s to 22 s into the market.
const MUTED: (usize, std::ops::Range<i64>) = (1, 10_000..22_000);
/// Long after the mute: when the market ends every stream falls silent.
const MARKET_SECONDS: u64 = 180;
/// A silence after 3 s at the earliest: the market's other streams never pause half as long
/// (checked below), and a busy machine rarely stalls the fake or the ingestor that long.
const SETTINGS: &str = "channels: [trades, depth]\ninstruments: [BTC-USDT, ETH-USDT]\nsnapshot_depth: 1000\n\
                        snapshot_check_period: 5m\nsilence: {factor: 5, min: 3s, min_samples: 20, repeat: 1s}";
const MIN_SILENCE_MS: i64 = 3_000;

/// (instrument index, channel, ms) of an event.
fn stream_of(e: &Event) -> (usize, &'static str, i64) {
    match e {
        Event::Trade { inst, ms, .. } => (*inst, "trades", *ms),
        Event::Depth { inst, ms, .. } => (*inst, "depth", *ms),
    }
}

/// Write the market as a Binance spot recording folder with real symbols (so that
/// symbols.yaml knows them): 20 trades and 10 book updates per instrument and second, on
/// average, as a liquid pair has; ETH's trades muted.
fn write_market(dir: &Path) {
    let market =
        Synthetic { seed: 7, instruments: 2, seconds: MARKET_SECONDS, trades_per_second: 20.0, depth_per_second: 10.0 };
    let (starts, events) = market.events();
    let t0 = stream_of(&events[0]).2;
    let muted = |e: &&Event| {
        let (inst, channel, ms) = stream_of(e);
        inst == MUTED.0 && channel == "trades" && MUTED.1.contains(&(ms - t0))
    };
    let kept: Vec<Event> = events.iter().filter(|e| !muted(e)).cloned().collect();
    // The recording holds no other silence: each stream's longest pause, the mute aside.
    let mut last: BTreeMap<(usize, &str), i64> = BTreeMap::new();
    for e in &kept {
        let (inst, channel, ms) = stream_of(e);
        if let Some(before) = last.insert((inst, channel), ms) {
            let gap = ms - before;
            let is_mute = (inst, channel) == (MUTED.0, "trades") && gap >= MUTED.1.end - MUTED.1.start;
            assert!(
                is_mute || gap < MIN_SILENCE_MS / 2,
                "{} {channel} pauses {gap} ms in the recording",
                SYMBOLS[inst]
            );
        }
    }
    let symbols: Vec<String> = SYMBOLS.map(String::from).to_vec();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ws_combined_stream_recording.jsonl"), binance(false, &symbols, &kept)).unwrap();
    for (s, start) in symbols.iter().zip(&starts) {
        let snap = serde_json::json!({"lastUpdateId": 0, "bids": start.bids, "asks": start.asks});
        std::fs::write(dir.join(format!("rest_depth_snapshot_{s}.json")), snap.to_string()).unwrap();
    }
    let listed: Vec<_> = symbols.iter().map(|s| serde_json::json!({"symbol": s})).collect();
    std::fs::write(dir.join("rest_exchangeInfo.json"), serde_json::json!({"symbols": listed}).to_string()).unwrap();
}

/// A reader of the scenario's `signals` only (the raw topics are not needed here).
fn signals_reader(prefix: &str) -> BaseConsumer {
    let c: BaseConsumer = broker::client_config(&stack().broker())
        .set("group.id", unique("reader"))
        .set("fetch.wait.max.ms", "50")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    // Offset 0, not Beginning (Tansu answers ListOffsets wrongly).
    tpl.add_partition_offset(&format!("{prefix}.signals"), 0, Offset::Offset(0)).unwrap();
    c.assign(&tpl).unwrap();
    c
}

fn poll_signals(c: &BaseConsumer, into: &mut Vec<Signal>) {
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
        let (_, datum) = wire::unframe(m.payload().unwrap()).unwrap();
        let s = Signal::from_avro(datum).unwrap();
        assert_eq!(m.key(), Some(s.instrument.as_bytes()), "signals are keyed by instrument");
        into.push(s);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_silent_on_an_open_socket_is_signalled_and_the_others_are_not() {
    let _one_at_a_time = SERIAL.lock().await;
    let prefix = unique("silence");
    let dir = std::env::temp_dir().join(&prefix);
    write_market(&dir);
    topics(&prefix).await;
    let (_fake, ws, rest) = fake_venue_at("binance", &dir, 1.0, &[]);
    let port = free_port();
    let _ingest = ingest(&prefix, "binance", &ws, &rest, SETTINGS, port);
    tokio::task::block_in_place(|| wait_http(&format!("http://127.0.0.1:{port}/metrics"), 60));
    // First the broker's acknowledgement, so that a failure says which side is missing.
    let published = format!("ingest_published_total{{topic=\"{prefix}.signals\"}}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while metric(port, &published).await == 0 {
        assert!(Instant::now() < deadline, "no signal published; ingest log:\n{}", log_tail(&prefix));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let c = signals_reader(&prefix);
    let mut signals = Vec::new();
    let eth_trades = |s: &Signal| s.instrument == "ETH-USDT" && s.channel.as_deref() == Some("trades");
    // The silence ends with ETH's next trade, 22 s into the market. What comes after it on the
    // topic is left out (the market's end silences every stream).
    let deadline = Instant::now() + Duration::from_secs(90);
    let end = loop {
        if let Some(end) = signals.iter().position(|s| eth_trades(s) && s.value == 0.0) {
            break end;
        }
        if Instant::now() > deadline {
            let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
            let sent: Vec<&str> = metrics.lines().filter(|l| l.starts_with("ingest_publish")).collect();
            panic!(
                "no end of ETH-USDT's trade silence; signals: {signals:?}\n{sent:?}\ningest log:\n{}",
                log_tail(&prefix)
            );
        }
        poll_signals(&c, &mut signals);
    };
    signals.truncate(end + 1);
    let others: Vec<&Signal> = signals.iter().filter(|s| !eth_trades(s)).collect();
    assert!(others.is_empty(), "streams that kept sending were reported silent: {others:?}");
    // One silence: a start with its length so far, longer reports while it lasts, one end.
    let values: Vec<f64> = signals.iter().map(|s| s.value).collect();
    let (_, during) = values.split_last().unwrap();
    assert!(!during.is_empty() && during[0] > 0.0, "a start with the silence so far: {values:?}");
    assert!(during.windows(2).all(|w| w[1] > w[0]), "each report longer than the last: {values:?}");
    for s in &signals {
        let fields = (s.kind.as_str(), s.venue.as_str(), s.unit.as_str(), s.venue_b.as_ref(), s.interval.as_ref());
        assert_eq!(fields, ("silence", "binance", "ms", None, None));
        assert_eq!(s.at_us, s.emitted_at_us);
    }
    let started = "stream_silences_total{venue=\"binance\",instrument=\"ETH-USDT\",channel=\"trades\"}";
    // Counted once; nothing else went silent before the market's end, minutes away.
    assert_eq!(metric(port, started).await, 1, "one silence started");
    assert_eq!(metric(port, "stream_silences_total").await, 1, "and no other");
    std::fs::remove_dir_all(dir).ok();
}
