//! Ingest, one core: venue frames → raw records (parsed, normalized, books kept in sync by
//! the venue's rules) → Avro in the Confluent wire format; `cargo bench -p tickwatch-bench
//! --bench ingest` (or `make bench`).
//!
//! 1. The synthetic market in each venue's format, trade frames alone and all frames,
//!    beside a floor measured in the same run: the same frames only parsed into a JSON tree.
//! 2. The same real recordings (`../shared/fixtures`) through our code and through
//!    cryptofeed's own message handler (`bench/cryptofeed`, run here as a second process),
//!    for the ratio. Skipped with a message when the fixtures or cryptofeed's environment
//!    are missing (`make bench-setup` makes it).

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tickwatch_bench::{per_second, rate, rate_prepared, repo_root};
use tickwatch_fakes::synthetic::Synthetic;
use tickwatch_ingest::binance::Binance;
use tickwatch_ingest::bybit::Bybit;
use tickwatch_ingest::frame::{Frame, RawRecord};
use tickwatch_ingest::okx::Okx;
use tickwatch_ingest::session::{ConnectorConfig, Venue, VenueSession};
use tickwatch_model::{wire, AvroRecord};

const VENUES: [&str; 4] = ["binance", "binance-usdm", "okx", "bybit"];
const TIME: Duration = Duration::from_secs(2);

/// Read every frame and encode every record; returns the bytes written (kept alive).
fn run(session: &mut impl VenueSession, frames: &[String], buf: &mut Vec<u8>) -> usize {
    let mut written = 0;
    for f in frames {
        if let Frame::Records(records) = session.read(f, 1_764_000_000_000).frame {
            for r in &records {
                buf.clear();
                wire::write_header(1, buf);
                let _ = match r {
                    RawRecord::Trade(t) => t.write_avro(buf),
                    RawRecord::Book(b) => b.write_avro(buf),
                    RawRecord::Reference(p) => p.write_avro(buf),
                };
                written += buf.len();
            }
        }
    }
    written
}

/// Frames per second of `venue`'s session over `frames`; a fresh session per pass (made
/// outside the timer), its books first loaded from `snapshots` (Binance's REST bodies).
fn ours(venue: &str, symbols: &[String], frames: &[String], snapshots: &[(String, Vec<u8>)]) -> f64 {
    let cfg = ConnectorConfig::offline(venue, symbols);
    let mut buf = Vec::with_capacity(4096);
    match venue {
        "okx" => rate_prepared(
            frames.len(),
            TIME,
            || Okx.session(&cfg, &Okx.streams(&cfg)),
            |mut s| {
                black_box(run(&mut s, frames, &mut buf));
            },
        ),
        "bybit" => {
            let v = Bybit::for_url(&cfg.ws_url);
            rate_prepared(
                frames.len(),
                TIME,
                || v.session(&cfg, &v.streams(&cfg)),
                |mut s| {
                    black_box(run(&mut s, frames, &mut buf));
                },
            )
        }
        _ => {
            let v = Binance::for_venue(venue);
            let snaps: Vec<_> = snapshots.iter().map(|(s, body)| (s.clone(), v.rest_book(body).unwrap())).collect();
            let prepare = || {
                let mut s = v.session(&cfg, &v.streams(&cfg));
                for (sym, snap) in &snaps {
                    s.on_rest_snapshot(sym, snap, 0);
                }
                s
            };
            rate_prepared(frames.len(), TIME, prepare, |mut s| {
                black_box(run(&mut s, frames, &mut buf));
            })
        }
    }
}

fn json_floor(frames: &[String]) -> f64 {
    rate(frames.len(), TIME, || {
        for f in frames {
            black_box(serde_json::from_str::<serde_json::Value>(f).unwrap());
        }
    })
}

fn is_trade(line: &str) -> bool {
    line.contains("@aggTrade") || line.contains("\"channel\":\"trades\"") || line.contains("\"topic\":\"publicTrade.")
}

/// The frames of a recording folder and the Binance REST snapshots in it.
fn load(venue: &str, dir: &Path) -> (Vec<String>, Vec<(String, Vec<u8>)>) {
    let file = match venue {
        "okx" => "ws_public_recording.jsonl".to_string(),
        "bybit" => std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .find(|n| n.starts_with("orderbook_"))
            .unwrap(),
        _ => "ws_combined_stream_recording.jsonl".into(),
    };
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let frames = text.lines().filter(|l| !l.trim().is_empty()).map(String::from).collect();
    let snapshots = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let symbol = name.strip_prefix("rest_depth_snapshot_")?.strip_suffix(".json")?.to_string();
            Some((symbol.clone(), std::fs::read(dir.join(&name)).ok()?))
        })
        .collect();
    (frames, snapshots)
}

/// The symbols the frames name (for the sessions' book lists).
fn symbols_of(frames: &[String]) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for f in frames {
        let v: serde_json::Value = serde_json::from_str(f).unwrap_or_default();
        for s in [&v["data"]["s"], &v["arg"]["instId"], &v["data"]["symbol"]] {
            if let Some(s) = s.as_str() {
                out.insert(s.to_string());
            }
        }
    }
    out.into_iter().collect()
}

/// cryptofeed's frames per second on the same recording, or why there is none.
fn cryptofeed(fixtures: &Path, venue: &str, kind: &str) -> Result<f64, String> {
    let dir = repo_root().join("bench/cryptofeed");
    let python = dir.join(".venv/bin/python");
    if !python.exists() {
        return Err("cryptofeed not installed (make bench-setup)".into());
    }
    let out = Command::new(python)
        .arg(dir.join("parse_bench.py"))
        .arg("--fixtures")
        .arg(fixtures)
        .args(["--venue", venue, "--kind", kind])
        .output()
        .map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).map_err(|_| {
        format!("cryptofeed run failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""))
    })?;
    v["frames_per_second"].as_f64().ok_or_else(|| "no frames_per_second".into())
}

fn main() {
    let market = Synthetic { seed: 42, instruments: 50, seconds: 60, trades_per_second: 20.0, depth_per_second: 10.0 };
    let root = std::env::temp_dir().join(format!("tw-bench-ingest-{}", std::process::id()));
    println!("Ingest, one core: frames → raw records (books in sync) → Avro, wire format");
    println!("\n1. Synthetic market (seed 42, {} instruments, {} s)", market.instruments, market.seconds);
    println!("| venue | trade frames | ours | JSON tree only (floor) | ours / floor | all frames | ours |");
    println!("|---|---|---|---|---|---|---|");
    for venue in VENUES {
        let dir = root.join(venue);
        let symbols = market.write(venue, &dir).expect("write the synthetic market");
        let (frames, snapshots) = load(venue, &dir);
        let trades: Vec<String> = frames.iter().filter(|f| is_trade(f)).cloned().collect();
        let (t_ours, floor) = (ours(venue, &symbols, &trades, &[]), json_floor(&trades));
        let all = ours(venue, &symbols, &frames, &snapshots);
        println!(
            "| {venue} | {} | {} | {} | {:.2} | {} | {} |",
            trades.len(),
            per_second(t_ours),
            per_second(floor),
            t_ours / floor,
            frames.len(),
            per_second(all)
        );
    }
    let _ = std::fs::remove_dir_all(&root);

    let fixtures = repo_root().join("../shared/fixtures");
    if !fixtures.is_dir() {
        println!("\n2. skipped: ../shared/fixtures not found beside the repository");
        return;
    }
    println!("\n2. The same recordings through cryptofeed's message handler (second process)");
    println!("| venue | frames | ours | cryptofeed | ours / cryptofeed |");
    println!("|---|---|---|---|---|");
    for (venue, folder) in
        [("binance", "binance_spot"), ("binance-usdm", "binance_usdm"), ("okx", "okx"), ("bybit", "bybit")]
    {
        let (frames, snapshots) = load(venue, &fixtures.join(folder));
        let symbols = symbols_of(&frames);
        let trades: Vec<String> = frames.iter().filter(|f| is_trade(f)).cloned().collect();
        for (kind, set, snaps) in [("trades", &trades, &[][..]), ("all", &frames, &snapshots[..])] {
            if set.is_empty() {
                continue;
            }
            let mine = ours(venue, &symbols, set, snaps);
            let theirs = cryptofeed(&fixtures, venue, kind);
            let (peer, ratio) = match theirs {
                Ok(v) => (per_second(v), format!("{:.1}×", mine / v)),
                Err(why) => (why, "–".into()),
            };
            println!("| {venue} {kind} | {} | {} | {peer} | {ratio} |", set.len(), per_second(mine));
        }
    }
}
