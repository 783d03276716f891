//! `tickwatch fake-venue`: a venue's real protocols over a real recording, with faults.

use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use tickwatch_fakes::faults::Faults;
use tickwatch_fakes::synthetic::{binance_frames, MarketWalk, Synthetic};
use tickwatch_fakes::FakeError;
use tickwatch_runtime::ConfigError;

#[derive(Args)]
pub struct FakeVenueArgs {
    /// binance | binance-usdm | okx | bybit
    #[arg(long)]
    venue: String,
    /// The recording folder: ../shared/fixtures/binance_spot, binance_usdm, okx or bybit.
    #[arg(long, required_unless_present = "synthetic_seed")]
    recording: Option<PathBuf>,
    /// Serve a seeded synthetic market instead of a recording.
    #[arg(long)]
    synthetic_seed: Option<u64>,
    /// Instruments of the synthetic market (symbols SYN0USDT.. or SYN0-USDT.. on OKX).
    #[arg(long, default_value_t = 20)]
    synthetic_instruments: usize,
    /// The synthetic market's venue symbols instead (comma-separated, e.g. BTCUSDT,ETHUSDT;
    /// BTC-USDT,ETH-USDT on OKX): instruments the symbol map knows.
    #[arg(long, value_delimiter = ',')]
    synthetic_symbols: Vec<String>,
    /// The synthetic market starts now (its event times are today's) instead of at a fixed
    /// time in the past.
    #[arg(long)]
    synthetic_from_now: bool,
    /// Seconds of synthetic market (replayed at --speed).
    #[arg(long, default_value_t = 600)]
    synthetic_seconds: u64,
    /// Trades per instrument and second, on average.
    #[arg(long, default_value_t = 20.0)]
    synthetic_trades: f64,
    /// Book updates per instrument and second, on average.
    #[arg(long, default_value_t = 10.0)]
    synthetic_depth: f64,
    /// Make the synthetic market as it plays instead of writing it out first, so that a
    /// market too long to hold (a soak's hour) takes no memory; with --synthetic-seconds 0
    /// it never ends. Binance and Binance USD-M trades only (--synthetic-depth 0): no books
    /// and no REST k-lines.
    #[arg(long)]
    synthetic_stream: bool,
    #[arg(long, default_value = "127.0.0.1:0")]
    ws_listen: String,
    #[arg(long, default_value = "127.0.0.1:0")]
    rest_listen: String,
    /// 1 replays at the recorded pace, 10 ten times faster, 0 as fast as possible.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Skip every Nth data frame of a connection (0: never).
    #[arg(long, default_value_t = 0)]
    drop_every: u64,
    /// Send every Nth data frame twice.
    #[arg(long, default_value_t = 0)]
    duplicate_every: u64,
    /// Send a malformed frame before every Nth data frame.
    #[arg(long, default_value_t = 0)]
    garbage_every: u64,
    /// Close each connection after N data frames.
    #[arg(long, default_value_t = 0)]
    disconnect_after: u64,
    /// Stop sending data after N frames, socket open (pings go on).
    #[arg(long, default_value_t = 0)]
    stall_after: u64,
    /// Hold every Nth data frame back and send it after the next one.
    #[arg(long, default_value_t = 0)]
    reorder_every: u64,
    /// Seconds between server pings (Binance; OKX and Bybit clients ping).
    #[arg(long, default_value_t = 20)]
    ping_every: u64,
    /// Close each connection this many milliseconds after it opened, with the venue's
    /// notice (the 24 h limit, shortened; 0: never).
    #[arg(long, default_value_t = 0)]
    lifetime_ms: u64,
    /// REST k-line requests answered per second; past it, the venue's rate-limit answer
    /// (Binance 429 + Retry-After, OKX 429 code 50011, Bybit retCode 10006; 0: no limit).
    #[arg(long, default_value_t = 0)]
    rest_limit: u32,
}

pub async fn run(args: FakeVenueArgs) -> anyhow::Result<()> {
    let faults = Faults {
        drop_every: args.drop_every,
        duplicate_every: args.duplicate_every,
        garbage_every: args.garbage_every,
        disconnect_after: args.disconnect_after,
        stall_after: args.stall_after,
        reorder_every: args.reorder_every,
        ping_every: Duration::from_secs(args.ping_every.max(1)),
        lifetime: (args.lifetime_ms > 0).then(|| Duration::from_millis(args.lifetime_ms)),
        rest_per_second: args.rest_limit,
    };
    if args.synthetic_stream {
        return serve_stream(&args, faults).await;
    }
    let recording = match (args.synthetic_seed, &args.recording) {
        (Some(seed), _) => {
            let market = Synthetic {
                seed,
                instruments: args.synthetic_instruments,
                seconds: args.synthetic_seconds,
                trades_per_second: args.synthetic_trades,
                depth_per_second: args.synthetic_depth,
            };
            let dir = std::env::temp_dir().join(format!("tickwatch-synthetic-{}-{}", args.venue, std::process::id()));
            let symbols = if args.synthetic_symbols.is_empty() && !args.synthetic_from_now {
                market.write(&args.venue, &dir)?
            } else {
                let symbols = if args.synthetic_symbols.is_empty() {
                    (0..args.synthetic_instruments).map(|i| format!("SYN{i}USDT")).collect()
                } else {
                    args.synthetic_symbols.clone()
                };
                market.write_as(&args.venue, &dir, &symbols, start_ms(&args))?;
                symbols
            };
            tracing::info!(folder = %dir.display(), first = %symbols[0], instruments = symbols.len(), "synthetic market written");
            dir
        }
        (None, Some(path)) => path.clone(),
        (None, None) => unreachable!("clap requires --recording without --synthetic-seed"),
    };
    let running =
        match tickwatch_fakes::serve(&args.venue, &recording, &args.ws_listen, &args.rest_listen, args.speed, faults)
            .await
        {
            Err(e @ FakeError::UnknownVenue(_)) => {
                return Err(ConfigError::field(&recording, "--venue", e.to_string()).into())
            }
            other => other?,
        };
    if args.synthetic_seed.is_some() {
        // Loaded: the folder was only the way in.
        let _ = std::fs::remove_dir_all(&recording);
    }
    announce(&running).await
}

/// When the synthetic market starts: now with --synthetic-from-now, else the fixed start.
fn start_ms(args: &FakeVenueArgs) -> i64 {
    if args.synthetic_from_now {
        tickwatch_runtime::produce::now_us() / 1000
    } else {
        tickwatch_fakes::synthetic::START_MS
    }
}

/// One line a test or a script can read the addresses from; then serve until told to stop.
async fn announce(running: &tickwatch_fakes::Running) -> anyhow::Result<()> {
    println!("ws_url={} rest_url=http://{}", running.ws_url, running.rest);
    super::shutdown_signal().await;
    Ok(())
}

/// `--synthetic-stream`: the seeded market made frame by frame as it plays.
async fn serve_stream(args: &FakeVenueArgs, faults: Faults) -> anyhow::Result<()> {
    let fix = "--synthetic-stream serves Binance or Binance USD-M trades: use --venue binance or binance-usdm, --synthetic-seed and --synthetic-depth 0";
    let seed = match args.synthetic_seed {
        Some(seed) if args.venue.starts_with("binance") && args.synthetic_depth == 0.0 => seed,
        _ => return Err(ConfigError::field(std::path::Path::new("command line"), "--synthetic-stream", fix).into()),
    };
    let market = Synthetic {
        seed,
        instruments: args.synthetic_instruments,
        seconds: args.synthetic_seconds,
        trades_per_second: args.synthetic_trades,
        depth_per_second: 0.0,
    };
    let symbols: Vec<String> = (0..args.synthetic_instruments).map(|i| format!("SYN{i}USDT")).collect();
    let walk = MarketWalk::new(&market, start_ms(args), args.synthetic_seconds == 0);
    let frames = binance_frames(walk, args.venue == "binance-usdm", symbols.clone());
    let m = tickwatch_fakes::binance::Market::streaming(&symbols, frames, args.speed);
    let running =
        tickwatch_fakes::serve_binance_stream(&args.venue, m, &args.ws_listen, &args.rest_listen, faults).await?;
    tracing::info!(first = %symbols[0], instruments = symbols.len(), "synthetic market made as it plays");
    announce(&running).await
}
