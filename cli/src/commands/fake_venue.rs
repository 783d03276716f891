//! `tickwatch fake-venue`: a venue's real protocols over a real recording, with faults.

use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use tickwatch_fakes::faults::Faults;
use tickwatch_runtime::ConfigError;

#[derive(Args)]
pub struct FakeVenueArgs {
    /// binance | binance-usdm
    #[arg(long)]
    venue: String,
    /// The recording folder (../shared/fixtures/binance_spot or binance_usdm).
    #[arg(long)]
    recording: PathBuf,
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
    /// Seconds between server pings.
    #[arg(long, default_value_t = 20)]
    ping_every: u64,
}

pub async fn run(args: FakeVenueArgs) -> anyhow::Result<()> {
    if !["binance", "binance-usdm"].contains(&args.venue.as_str()) {
        return Err(ConfigError::field(
            &args.recording,
            "--venue",
            format!("no fake for `{}` yet; built: binance, binance-usdm", args.venue),
        )
        .into());
    }
    let faults = Faults {
        drop_every: args.drop_every,
        duplicate_every: args.duplicate_every,
        garbage_every: args.garbage_every,
        disconnect_after: args.disconnect_after,
        stall_after: args.stall_after,
        ping_every: Duration::from_secs(args.ping_every.max(1)),
    };
    let running =
        tickwatch_fakes::binance::serve(&args.recording, &args.ws_listen, &args.rest_listen, args.speed, faults)
            .await?;
    // One line a test or a script can read the addresses from.
    println!("ws_url=ws://{}/stream rest_url=http://{}", running.ws, running.rest);
    super::shutdown_signal().await;
    Ok(())
}
