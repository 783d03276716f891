//! `tickwatch reconcile`: our 1m bars (ClickHouse, `klines FINAL`) checked against the
//! venue's own 1m k-lines. Each minute's outcome ([`compare::check`]) is published to
//! `<prefix>kline.1m` (verified, corrected or suspect, at the venue-checked version) and
//! recorded in `kline_checks`, the data-quality events a completeness report reads. `once`
//! checks a range; `run` checks every configured instrument a few minutes after each minute
//! closes, for as long as it runs.

use super::compare::{self, Outcome};
use super::{minute_floor, minute_range, now_us, KlinePublisher, Series};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tickwatch_ingest::history::{HistoryClient, HistoryVenue};
use tickwatch_model::Kline;
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::config_error::parse_duration_ms;
use tickwatch_runtime::venues::Exchanges;
use tickwatch_runtime::Settings;

#[derive(Subcommand)]
pub enum ReconcileCommand {
    /// Check one venue's instruments over a range, now.
    Once(OnceArgs),
    /// Check every enabled venue's instruments a few minutes after each minute closes.
    Run(RunArgs),
    /// Per venue, instrument and day: the share of minutes with a verified bar.
    Report(super::report::ReportArgs),
}

#[derive(Args)]
pub struct Common {
    /// Prepended to the k-line topic and subject.
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// The exchanges file (default: files.exchanges of the settings).
    #[arg(long)]
    exchanges: Option<PathBuf>,
    /// REST requests per second per venue (default: well inside its documented limit).
    #[arg(long)]
    rate: Option<f64>,
}

#[derive(Args)]
pub struct OnceArgs {
    #[arg(long)]
    venue: String,
    /// Canonical instrument ids (repeat the flag; default: the venue's configured ones).
    #[arg(long = "instrument")]
    instruments: Vec<String>,
    /// Start (inclusive, rounded down to the minute): milliseconds since the epoch or RFC 3339.
    #[arg(long, value_parser = crate::commands::time_arg)]
    from: i64,
    /// End (exclusive; default: now). Only closed minutes are checked.
    #[arg(long, value_parser = crate::commands::time_arg)]
    to: Option<i64>,
    /// The venue's REST base URL, instead of the exchanges file's.
    #[arg(long)]
    rest_url: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
pub struct RunArgs {
    /// How long after a minute closes it is checked (the venue's bar is final by then, and
    /// the window worker's corrections are in).
    #[arg(long, default_value = "3m")]
    delay: String,
    /// How often to look for newly checkable minutes.
    #[arg(long, default_value = "1m")]
    every: String,
    /// At start, how far back to check.
    #[arg(long, default_value = "1h")]
    lookback: String,
    /// Where to serve /metrics (default: metrics.listen of the settings).
    #[arg(long)]
    metrics_listen: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Outcomes of a range.
#[derive(Debug, Default, Clone)]
pub struct Tally(pub BTreeMap<Outcome, u64>);

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = Outcome::ALL
            .iter()
            .map(|o| format!("{} {}", self.0.get(o).unwrap_or(&0), o.name().to_lowercase()))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

struct Reconciler {
    ch: ClickHouse,
    settings: Settings,
    topic_prefix: String,
    /// Made at the first publish: `run` publishes minutes after it starts, and a producer
    /// made beside every other stage's at start-up only adds to the broker's load then.
    publisher: tokio::sync::OnceCell<KlinePublisher>,
}

const OURS: &str = "SELECT venue, instrument, interval, toUnixTimestamp64Micro(open_time) AS open_time_us, \
    toUnixTimestamp64Micro(close_time) AS close_time_us, toString(open) AS open, toString(high) AS high, \
    toString(low) AS low, toString(close) AS close, toString(volume) AS volume, toString(quote_volume) AS quote_volume, \
    toString(vwap) AS vwap, trade_count, toString(taker_buy_volume) AS taker_buy_volume, \
    toString(taker_buy_quote_volume) AS taker_buy_quote_volume, first_trade_id, last_trade_id, version, \
    toString(verification) AS verification, toUnixTimestamp64Micro(emitted_at) AS emitted_at_us \
    FROM klines FINAL WHERE venue = {venue:String} AND instrument = {instrument:String} AND interval = '1m' \
    AND open_time >= fromUnixTimestamp64Milli({from:Int64}) AND open_time < fromUnixTimestamp64Milli({to:Int64})";

impl Reconciler {
    fn new(settings: &Settings, topic_prefix: &str) -> Reconciler {
        Reconciler {
            ch: ClickHouse::new(&settings.clickhouse),
            settings: settings.clone(),
            topic_prefix: topic_prefix.to_string(),
            publisher: tokio::sync::OnceCell::new(),
        }
    }

    /// Our bars of `[from, to)`, by open time (ms).
    async fn ours(&self, s: &Series, from: i64, to: i64) -> anyhow::Result<BTreeMap<i64, Kline>> {
        let params = [
            ("venue", s.venue.clone()),
            ("instrument", s.instrument.clone()),
            ("from", from.to_string()),
            ("to", to.to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v));
        let mut out = BTreeMap::new();
        for row in self.ch.query_params(OURS, &params).await? {
            let k: Kline = serde_json::from_value(row.clone()).map_err(|e| anyhow::anyhow!("klines row {row}: {e}"))?;
            out.insert(k.open_time_us / 1000, k);
        }
        Ok(out)
    }

    /// Check every minute of `[from, to)`: publish each outcome's bar, record the checks.
    async fn range(&self, s: &Series, client: &HistoryClient, from: i64, to: i64) -> anyhow::Result<Tally> {
        let ours = self.ours(s, from, to).await?;
        let theirs: BTreeMap<i64, _> =
            client.klines_1m(&s.symbol, s.kind, from, to).await?.into_iter().map(|b| (b.open_time_ms, b)).collect();
        let now = now_us();
        let mut minutes: Vec<i64> = ours.keys().chain(theirs.keys()).copied().collect();
        minutes.sort_unstable();
        minutes.dedup();
        let (mut bars, mut rows, mut tally) = (Vec::new(), String::new(), Tally::default());
        for m in minutes {
            let Some(c) = compare::check(s, ours.get(&m), theirs.get(&m), now) else { continue };
            *tally.0.entry(c.outcome).or_default() += 1;
            if c.outcome != Outcome::Match {
                tracing::info!(venue = %s.venue, instrument = %s.instrument, minute = m, outcome = c.outcome.name(),
                    differences = %c.differences.join("; "), "k-line reconciled");
            }
            let row = serde_json::json!({"venue": s.venue, "instrument": s.instrument, "open_ms": m,
                "outcome": c.outcome.name(), "differences": c.differences.join("; "), "checked_ms": now / 1000});
            rows.push_str(&row.to_string());
            rows.push('\n');
            bars.push(c.kline);
        }
        if bars.is_empty() {
            return Ok(tally);
        }
        let publisher =
            self.publisher.get_or_try_init(|| KlinePublisher::new(&self.settings, &self.topic_prefix)).await?;
        publisher.publish(&bars).await?;
        let insert = "INSERT INTO kline_checks SELECT venue, instrument, fromUnixTimestamp64Milli(open_ms), outcome, \
            differences, fromUnixTimestamp64Milli(checked_ms) FROM input('venue String, instrument String, open_ms Int64, \
            outcome String, differences String, checked_ms Int64') FORMAT JSONEachRow\n";
        self.ch.execute(&format!("{insert}{rows}")).await?;
        Ok(tally)
    }
}

pub async fn run(settings: &Settings, command: ReconcileCommand) -> anyhow::Result<()> {
    match command {
        ReconcileCommand::Once(args) => once(settings, args).await,
        ReconcileCommand::Run(args) => keep_running(settings, args).await,
        ReconcileCommand::Report(args) => super::report::run(settings, args).await,
    }
}

async fn once(settings: &Settings, args: OnceArgs) -> anyhow::Result<()> {
    let (from, to) = minute_range(args.from, args.to)?;
    let exchanges = args.common.exchanges.clone().unwrap_or_else(|| settings.files.exchanges.clone());
    let instruments = if args.instruments.is_empty() {
        let ex = Exchanges::load(&exchanges)?;
        ex.venues.get(&args.venue).map(|v| v.instruments.clone()).unwrap_or_default()
    } else {
        args.instruments.clone()
    };
    if instruments.is_empty() {
        anyhow::bail!("no instruments: pass --instrument or configure venue {} in {}", args.venue, exchanges.display());
    }
    let reconciler = Reconciler::new(settings, &args.common.topic_prefix);
    for instrument in instruments {
        let series = Series::resolve(settings, &exchanges, &args.venue, &instrument, args.rest_url.as_deref())?;
        let client = series.client(args.common.rate);
        let tally = reconciler.range(&series, &client, from, to).await?;
        println!("{} {instrument} [{from}, {to}): {tally}", args.venue);
    }
    Ok(())
}

/// Outcomes counted since start, by venue: `kline_reconcile_total`.
type Counts = Arc<Mutex<BTreeMap<(String, Outcome), u64>>>;

async fn keep_running(settings: &Settings, args: RunArgs) -> anyhow::Result<()> {
    let ms = |name: &str, text: &str| {
        parse_duration_ms(text)
            .filter(|v| *v > 0)
            .ok_or_else(|| anyhow::anyhow!("--{name} `{text}` is not a duration (e.g. 90s, 3m)"))
    };
    let (delay, every, lookback) =
        (ms("delay", &args.delay)?, ms("every", &args.every)?, ms("lookback", &args.lookback)?);
    let exchanges = args.common.exchanges.clone().unwrap_or_else(|| settings.files.exchanges.clone());
    let ex = Exchanges::load(&exchanges)?;
    let mut work = Vec::new();
    for (venue, cfg) in ex.venues.iter().filter(|(_, c)| c.enabled) {
        if HistoryVenue::from_name(venue).is_err() {
            continue;
        }
        for instrument in &cfg.instruments {
            let series = Series::resolve(settings, &exchanges, venue, instrument, None)?;
            let client = series.client(args.common.rate);
            work.push((series, client));
        }
    }
    let counts: Counts = Arc::default();
    let shown = counts.clone();
    let listen = args.metrics_listen.clone().unwrap_or_else(|| settings.metrics.listen.clone());
    tokio::spawn(async move {
        crate::commands::serve_metrics("reconcile", &listen, move || {
            let mut s = String::new();
            let rows = shown
                .lock()
                .expect("counts")
                .iter()
                .map(|((v, o), n)| (format!("venue=\"{v}\",outcome=\"{}\"", o.name().to_lowercase()), *n))
                .collect::<Vec<_>>();
            tickwatch_runtime::metrics::render_counters(
                &mut s,
                "kline_reconcile_total",
                "1m bars checked against the venue's, by outcome.",
                rows,
            );
            s
        })
        .await
    });
    let reconciler = Reconciler::new(settings, &args.common.topic_prefix);
    let start = minute_floor(now_us() / 1000 - lookback);
    let mut done: Vec<i64> = vec![start; work.len()];
    tracing::info!(series = work.len(), delay_ms = delay, "reconciling");
    loop {
        let ready = minute_floor(now_us() / 1000 - delay);
        for ((series, client), done) in work.iter().zip(done.iter_mut()) {
            if ready <= *done {
                continue;
            }
            match reconciler.range(series, client, *done, ready).await {
                Ok(tally) => {
                    let mut c = counts.lock().expect("counts");
                    for (o, n) in tally.0 {
                        *c.entry((series.venue.clone(), o)).or_default() += n;
                    }
                    *done = ready;
                }
                // Tried again next round from the same minute: nothing is skipped.
                Err(e) => {
                    tracing::warn!(venue = %series.venue, instrument = %series.instrument, error = %e, "reconciliation failed; retrying next round")
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(every as u64)) => {}
            _ = crate::commands::shutdown_signal() => return Ok(()),
        }
    }
}
