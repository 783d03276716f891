//! `tickwatch book replay`: a recorded depth stream through a venue's own sync rules. The
//! final book goes to stdout as JSON; each sequence break and checksum result goes to stderr.
//! Exit 0 when the recording synced cleanly, 1 when it broke somewhere, 2 for bad arguments.

use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use tickwatch_ingest::replay::{replay, ReplayError, Venue};
use tickwatch_runtime::ConfigError;

#[derive(Subcommand)]
pub enum BookAction {
    /// Rebuild a book from a recording and report every break and checksum result.
    Replay(ReplayArgs),
}

#[derive(Args)]
pub struct ReplayArgs {
    /// binance | binance-usdm | okx | bybit
    #[arg(long)]
    venue: Venue,
    /// The REST depth snapshot (JSON); needed for Binance, whose streams carry no snapshot.
    #[arg(long)]
    snapshot: Option<PathBuf>,
    /// The depth messages, one JSON frame per line (combined-stream envelopes are fine; other
    /// channels and acks are skipped).
    #[arg(long)]
    updates: PathBuf,
    /// Follow only this venue symbol (needed when the file holds several).
    #[arg(long)]
    symbol: Option<String>,
}

fn read(flag: &str, path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::field(path, flag, format!("cannot read it: {e}")).into())
}

pub fn run(action: BookAction) -> anyhow::Result<()> {
    let BookAction::Replay(args) = action;
    let snapshot = args.snapshot.as_ref().map(|p| read("--snapshot", p)).transpose()?;
    let updates = read("--updates", &args.updates)?;
    let r = replay(args.venue, snapshot.as_deref(), &updates, args.symbol.as_deref()).map_err(|e| {
        let (path, flag) = match e {
            ReplayError::SnapshotNeeded { .. } => (args.updates.clone(), "--snapshot"),
            ReplayError::MixedSymbols(..) => (args.updates.clone(), "--symbol"),
            ReplayError::BadSnapshot(_) => (args.snapshot.clone().unwrap_or_default(), "--snapshot"),
        };
        ConfigError::field(&path, flag, e.to_string())
    })?;
    let mut out = r.book.to_json();
    out["last_update_id"] = r.last_update_id.into();
    out["symbol"] = r.symbol.clone().into();
    // A closed pipe (`| head`) is the reader's choice, not an error of ours.
    if let Err(e) = writeln!(std::io::stdout().lock(), "{out}") {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    let mut report = String::new();
    for line in &r.report {
        report.push_str(line);
        report.push('\n');
    }
    let s = &r.stats;
    report.push_str(&format!(
        "{} snapshots, {} updates applied, {} stale, {} waiting for a snapshot, {} sequence breaks ({} ids lost, {} of unknown size), checksums: {} ok, {} mismatched; {} rejected, {} other messages skipped\n",
        s.snapshots, s.applied, s.stale, s.buffered, s.gaps, s.lost_exact, s.lost_unknown, s.checksums_ok,
        s.checksum_mismatches, s.rejected, r.skipped
    ));
    eprint!("{report}");
    if s.gaps + s.checksum_mismatches + s.rejected > 0 {
        anyhow::bail!(
            "{} break(s) in the recording (see the report above)",
            s.gaps + s.checksum_mismatches + s.rejected
        );
    }
    Ok(())
}
