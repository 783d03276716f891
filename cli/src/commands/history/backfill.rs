//! `tickwatch backfill`: a venue's 1-minute k-lines over a range, from its REST history
//! within its rate limits, published to `<prefix>kline.1m` (verified, at the venue-checked
//! version) chunk by chunk. A checkpoint file records how far it got, so an interrupted run
//! resumes where it stopped; the same range twice publishes the same bars.

use super::{minute_range, now_us, KlinePublisher, Series};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tickwatch_ingest::history::MINUTE_MS;
use tickwatch_runtime::Settings;

#[derive(Args)]
pub struct BackfillArgs {
    /// binance | binance-usdm | okx | bybit
    #[arg(long)]
    venue: String,
    /// Canonical instrument id (its venue symbol comes from the symbols file).
    #[arg(long)]
    instrument: String,
    /// Start (inclusive, rounded down to the minute): milliseconds since the epoch or RFC 3339.
    #[arg(long, value_parser = crate::commands::time_arg)]
    from: i64,
    /// End (exclusive; default: now). Only closed minutes are read.
    #[arg(long, value_parser = crate::commands::time_arg)]
    to: Option<i64>,
    /// Prepended to the k-line topic and subject.
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// The exchanges file with the venue's rest_url (default: files.exchanges of the settings).
    #[arg(long)]
    exchanges: Option<PathBuf>,
    /// The venue's REST base URL, instead of the exchanges file's.
    #[arg(long)]
    rest_url: Option<String>,
    /// Requests per second (default: well inside the venue's documented limit).
    #[arg(long)]
    rate: Option<f64>,
    /// Minutes read and published between checkpoints.
    #[arg(long, default_value_t = 1_000)]
    chunk_minutes: i64,
    /// The checkpoint file (default: .tickwatch/backfill/<venue>_<instrument>_<from>_<to>.json).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Checkpoint {
    venue: String,
    instrument: String,
    from_ms: i64,
    to_ms: i64,
    /// Every minute before this one is published.
    done_to_ms: i64,
}

pub async fn run(settings: &Settings, args: BackfillArgs) -> anyhow::Result<()> {
    let (from, to) = minute_range(args.from, args.to)?;
    if args.chunk_minutes < 1 {
        anyhow::bail!("--chunk-minutes must be at least 1");
    }
    let exchanges = args.exchanges.clone().unwrap_or_else(|| settings.files.exchanges.clone());
    let series = Series::resolve(settings, &exchanges, &args.venue, &args.instrument, args.rest_url.as_deref())?;
    let path = args.checkpoint.clone().unwrap_or_else(|| {
        PathBuf::from(".tickwatch/backfill").join(format!("{}_{}_{from}_{to}.json", args.venue, args.instrument))
    });
    let mut at = from;
    if let Some(cp) = read_checkpoint(&path)? {
        if (cp.venue.as_str(), cp.instrument.as_str(), cp.from_ms, cp.to_ms)
            != (&args.venue, &args.instrument, from, to)
        {
            anyhow::bail!(
                "{} is the checkpoint of another backfill ({cp:?}); pass another --checkpoint",
                path.display()
            );
        }
        if cp.done_to_ms >= to {
            println!(
                "already backfilled: {} {} [{from}, {to}) (checkpoint {}; delete it to run again)",
                args.venue,
                args.instrument,
                path.display()
            );
            return Ok(());
        }
        at = cp.done_to_ms.max(from);
        eprintln!("resuming at {at} from {}", path.display());
    }
    let publisher = KlinePublisher::new(settings, &args.topic_prefix).await?;
    let client = series.client(args.rate);
    let mut progress = Progress::new((to - from) / MINUTE_MS, (at - from) / MINUTE_MS);
    let (mut bars, mut empty) = (0u64, 0i64);
    while at < to {
        let end = (at + args.chunk_minutes * MINUTE_MS).min(to);
        let got = client.klines_1m(&series.symbol, series.kind, at, end).await?;
        let emitted = now_us();
        let klines: Vec<_> = got.iter().map(|b| series.kline_of(b, emitted)).collect();
        publisher.publish(&klines).await?;
        bars += klines.len() as u64;
        empty += (end - at) / MINUTE_MS - klines.len() as i64;
        at = end;
        let cp = Checkpoint {
            venue: args.venue.clone(),
            instrument: args.instrument.clone(),
            from_ms: from,
            to_ms: to,
            done_to_ms: at,
        };
        write_checkpoint(&path, &cp)?;
        progress.advance((at - from) / MINUTE_MS);
    }
    progress.finish();
    println!(
        "backfilled {bars} bars of {} {} [{from}, {to}) into {}: {empty} minutes without a bar, {} rate-limit waits",
        args.venue,
        args.instrument,
        publisher.topic(),
        client.limited()
    );
    Ok(())
}

fn read_checkpoint(path: &Path) -> anyhow::Result<Option<Checkpoint>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!("{} is not a backfill checkpoint ({e}); delete it to start over", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Written beside and renamed over, so a kill never leaves half a checkpoint.
fn write_checkpoint(path: &Path, cp: &Checkpoint) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(cp)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A progress bar with an ETA on stderr: redrawn in place on a terminal, one line per
/// chunk otherwise (logs).
struct Progress {
    total: i64,
    resumed_at: i64,
    started: Instant,
    tty: bool,
}

impl Progress {
    fn new(total: i64, done: i64) -> Progress {
        let p = Progress { total, resumed_at: done, started: Instant::now(), tty: std::io::stderr().is_terminal() };
        p.draw(done);
        p
    }

    fn advance(&mut self, done: i64) {
        self.draw(done);
    }

    fn draw(&self, done: i64) {
        const WIDTH: i64 = 30;
        let filled = if self.total > 0 { done * WIDTH / self.total } else { WIDTH };
        let bar: String = (0..WIDTH).map(|i| if i < filled { '#' } else { '.' }).collect();
        let rate = (done - self.resumed_at) as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let eta = if rate > 0.0 { format!("{:.0}s", (self.total - done) as f64 / rate) } else { "?".into() };
        let line = format!("[{bar}] {:>3}% {done}/{} min, ETA {eta}", done * 100 / self.total.max(1), self.total);
        let mut err = std::io::stderr();
        let _ = if self.tty { write!(err, "\r{line}") } else { writeln!(err, "{line}") };
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_survives_its_round_trip_and_a_bad_one_names_the_fix() {
        let dir = std::env::temp_dir().join(format!("tw-backfill-cp-{}", std::process::id()));
        let path = dir.join("cp.json");
        assert!(read_checkpoint(&path).unwrap().is_none());
        let cp = Checkpoint {
            venue: "okx".into(),
            instrument: "BTC-USDT".into(),
            from_ms: 0,
            to_ms: 600_000,
            done_to_ms: 120_000,
        };
        write_checkpoint(&path, &cp).unwrap();
        assert_eq!(read_checkpoint(&path).unwrap(), Some(cp));
        std::fs::write(&path, "{").unwrap();
        let e = read_checkpoint(&path).unwrap_err().to_string();
        assert!(e.contains("delete it to start over"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
