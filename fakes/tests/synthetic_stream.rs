//! A synthetic market made as it plays (`tickwatch fake-venue --synthetic-stream`): the fake
//! Binance serves, over its real WebSocket protocol, exactly the frames the written market
//! holds, in order; an endless market goes on past its seconds with each instrument's trade
//! ids still counting one by one.

use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::time::Duration;
use tickwatch_fakes::binance::Market;
use tickwatch_fakes::faults::Faults;
use tickwatch_fakes::synthetic::{binance, binance_frames, Event, MarketWalk, Synthetic, START_MS};
use tokio_tungstenite::tungstenite::Message;

fn market() -> (Synthetic, Vec<String>) {
    let m = Synthetic { seed: 11, instruments: 3, seconds: 2, trades_per_second: 200.0, depth_per_second: 0.0 };
    (m, (0..3).map(|i| format!("SYN{i}USDT")).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_market_plays_the_frames_of_the_written_one() {
    let (m, symbols) = market();
    let written = binance(false, &symbols, &m.events_from(START_MS).1);
    let written: Vec<&str> = written.lines().collect();
    assert!(written.len() > 1000, "{} frames", written.len());
    let frames = binance_frames(MarketWalk::new(&m, START_MS, false), false, symbols.clone());
    let served = Market::streaming(&symbols, frames, 10.0);
    let running =
        tickwatch_fakes::serve_binance_stream("binance", served, "127.0.0.1:0", "127.0.0.1:0", Faults::default())
            .await
            .expect("serves");
    let info: serde_json::Value = reqwest::get(format!("http://{}/api/v3/exchangeInfo", running.rest))
        .await
        .expect("exchangeInfo")
        .json()
        .await
        .expect("JSON");
    assert_eq!(info["symbols"][2]["symbol"], "SYN2USDT");

    let (mut ws, _) = tokio_tungstenite::connect_async(running.ws_url.as_str()).await.expect("connects");
    let params: Vec<String> = symbols.iter().map(|s| format!("{}@aggTrade", s.to_lowercase())).collect();
    let subscribe = serde_json::json!({"method": "SUBSCRIBE", "params": params, "id": 1}).to_string();
    ws.send(Message::text(subscribe)).await.expect("subscribes");
    let mut got = Vec::new();
    while got.len() < written.len() {
        let next = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
        let msg = next.expect("frames keep coming").expect("open").expect("a frame");
        if let Message::Text(t) = msg {
            if t.contains("aggTrade") {
                got.push(t.to_string());
            }
        }
    }
    assert_eq!(got, written, "the streamed market is the written one, frame for frame");
}

#[test]
fn an_endless_market_goes_on_counting_trades() {
    let (m, _) = market();
    let (_, events) = m.events_from(START_MS);
    let more: Vec<Event> = MarketWalk::new(&m, START_MS, true).take(events.len() * 3).collect();
    assert_eq!(more.len(), events.len() * 3, "it does not stop at its seconds");
    assert!(more.last().expect("events").ms() >= START_MS + 5_000);
    let mut last: HashMap<usize, i64> = HashMap::new();
    for (i, e) in more.iter().enumerate() {
        let Event::Trade { inst, id, .. } = e else { panic!("trades only") };
        assert_eq!(*id, last.get(inst).copied().unwrap_or(0) + 1, "instrument {inst}'s ids count one by one");
        last.insert(*inst, *id);
        if let (Some(Event::Trade { id: a, px: p, .. }), Event::Trade { id: b, px: q, .. }) = (events.get(i), e) {
            assert_eq!((a, p), (b, q), "the first seconds are the finite market's");
        }
    }
}
