//! `tickwatch backfill`: a venue's 1-minute k-lines (or its trades) over a range, from its
//! REST history within its rate limits, chunk by chunk. K-lines go to `<prefix>kline.1m`
//! (verified, at the venue-checked version); trades go to `<prefix>raw.trades`, as the live
//! ingestor would have published them, for the transforms to normalize. A checkpoint file
//! records how far it got, so an interrupted run resumes where it stopped; the same range
//! twice publishes the same bars, or the same trades with the same ids.

use super::{minute_range, now_us, KlinePublisher, Publisher, Series};
use crate::commands::progress::Progress;
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use tickwatch_ingest::history::HistoryVenue;
use tickwatch_ingest::history::MINUTE_MS;
use tickwatch_model::RawTrade;
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
    /// What to read: the venue's 1-minute k-lines, or its trades (Binance aggregate trades,
    /// OKX trades; Bybit's REST has no trade history).
    #[arg(long, value_enum, default_value_t = Kind::Klines)]
    kind: Kind,
    /// Prepended to the topic and subject.
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
    /// The checkpoint file (default:
    /// .tickwatch/backfill/<venue>_<instrument>_<kind>_<from>_<to>.json).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Klines,
    Trades,
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Checkpoint {
    venue: String,
    instrument: String,
    /// Checkpoints written before trades could be backfilled are k-line ones.
    #[serde(default)]
    kind: Kind,
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
    let kind = args.kind;
    if kind == Kind::Trades && HistoryVenue::from_name(&args.venue)? == HistoryVenue::Bybit {
        Err(tickwatch_ingest::history::HistoryError::NoTradeHistory("bybit"))?;
    }
    let exchanges = args.exchanges.clone().unwrap_or_else(|| settings.files.exchanges.clone());
    let series = Series::resolve(settings, &exchanges, &args.venue, &args.instrument, args.rest_url.as_deref())?;
    let path = args.checkpoint.clone().unwrap_or_else(|| {
        let name = format!("{}_{}_{}_{from}_{to}.json", args.venue, args.instrument, kind.name());
        PathBuf::from(".tickwatch/backfill").join(name)
    });
    let mut at = from;
    if let Some(cp) = read_checkpoint(&path)? {
        if (cp.venue.as_str(), cp.instrument.as_str(), cp.kind, cp.from_ms, cp.to_ms)
            != (&args.venue, &args.instrument, kind, from, to)
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
    let mut out = Output::new(settings, kind, &args.topic_prefix).await?;
    let rate = match kind {
        Kind::Klines => args.rate,
        Kind::Trades => args.rate.or(Some(HistoryVenue::from_name(&args.venue)?.default_trade_rate())),
    };
    let client = series.client(rate);
    let mut progress = Progress::new("min", (to - from) / MINUTE_MS, (at - from) / MINUTE_MS);
    while at < to {
        let end = (at + args.chunk_minutes * MINUTE_MS).min(to);
        match &out {
            Output::Klines { publisher, .. } => {
                let got = client.klines_1m(&series.symbol, series.kind, at, end).await?;
                let emitted = now_us();
                let klines: Vec<_> = got.iter().map(|b| series.kline_of(b, emitted)).collect();
                publisher.publish(&klines).await?;
                out.count(klines.len() as u64, (end - at) / MINUTE_MS);
            }
            Output::Trades { publisher, .. } => {
                let trades = client.trades(&series.symbol, at, end).await?;
                publisher.publish(&trades).await?;
                out.count(trades.len() as u64, (end - at) / MINUTE_MS);
            }
        }
        at = end;
        let cp = Checkpoint {
            venue: args.venue.clone(),
            instrument: args.instrument.clone(),
            kind,
            from_ms: from,
            to_ms: to,
            done_to_ms: at,
        };
        write_checkpoint(&path, &cp)?;
        progress.advance((at - from) / MINUTE_MS);
    }
    progress.finish();
    println!(
        "backfilled {} of {} {} [{from}, {to}) into {}, {} rate-limit waits",
        out.summary(),
        args.venue,
        args.instrument,
        out.topic(),
        client.limited()
    );
    Ok(())
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Klines => "klines",
            Kind::Trades => "trades",
        }
    }
}

/// Where a backfill publishes, and what it has published so far.
enum Output {
    Klines { publisher: KlinePublisher, bars: u64, empty_minutes: i64 },
    Trades { publisher: Publisher<RawTrade>, trades: u64 },
}

impl Output {
    async fn new(settings: &Settings, kind: Kind, prefix: &str) -> anyhow::Result<Output> {
        Ok(match kind {
            Kind::Klines => {
                Output::Klines { publisher: Publisher::new(settings, prefix).await?, bars: 0, empty_minutes: 0 }
            }
            Kind::Trades => Output::Trades { publisher: Publisher::new(settings, prefix).await?, trades: 0 },
        })
    }

    /// `n` records published for a chunk of `minutes`.
    fn count(&mut self, n: u64, minutes: i64) {
        match self {
            Output::Klines { bars, empty_minutes, .. } => {
                *bars += n;
                *empty_minutes += minutes - n as i64;
            }
            Output::Trades { trades, .. } => *trades += n,
        }
    }

    fn topic(&self) -> &str {
        match self {
            Output::Klines { publisher, .. } => publisher.topic(),
            Output::Trades { publisher, .. } => publisher.topic(),
        }
    }

    fn summary(&self) -> String {
        match self {
            Output::Klines { bars, empty_minutes, .. } => {
                format!("{bars} bars ({empty_minutes} minutes without a bar)")
            }
            Output::Trades { trades, .. } => format!("{trades} trades"),
        }
    }
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
            kind: Kind::Trades,
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
