//! `tickwatch replay`: re-publish a time range into another topic (a shadow topic to rebuild
//! k-lines from, or to try a new rule on), from the broker ([`broker`]: a topic's records as
//! they are) or from the Parquet history ([`parquet`]: a dataset's stored rows as the records
//! they were written from). Either way each record goes to the partition number it was read
//! from (modulo the target's partition count), in its partition's order, with a
//! `tickwatch-replay` header naming the original.

pub mod broker;
pub mod parquet;

use clap::{ArgGroup, Args};
use rdkafka::consumer::BaseConsumer;
use tickwatch_runtime::broker::TopicSpec;
use tickwatch_runtime::Settings;

/// The header a replayed record carries: `<topic>/<partition>/<offset>` of its original.
pub const REPLAY_HEADER: &str = "tickwatch-replay";

/// Records sent per batch: each batch is enqueued whole, in order, then acknowledged.
const BATCH: usize = 5_000;

#[derive(Args)]
#[command(group(ArgGroup::new("source").required(true).args(["topic", "from_parquet"])))]
pub struct ReplayArgs {
    /// The topic to read (as named on the broker, prefix included).
    #[arg(long)]
    topic: Option<String>,
    /// The Parquet history to read instead: a dataset folder of the Parquet writer,
    /// `s3://<bucket>/<key_prefix><trades|klines|reference_prices|dex_swaps>/`, read with the
    /// settings' S3 endpoint and keys.
    #[arg(long, value_name = "S3_URL")]
    from_parquet: Option<String>,
    /// With --from-parquet: only this venue's files.
    #[arg(long, requires = "from_parquet")]
    venue: Option<String>,
    /// With --from-parquet: only this instrument's files (canonical id).
    #[arg(long, requires = "from_parquet")]
    instrument: Option<String>,
    /// Start of the range (inclusive): milliseconds since the epoch or RFC 3339. From the
    /// broker, record timestamps; from Parquet, event times (a k-line's open time).
    #[arg(long, value_parser = super::time_arg)]
    from: i64,
    /// End of the range (exclusive; default: now).
    #[arg(long, value_parser = super::time_arg)]
    to: Option<i64>,
    /// The topic to write; created when missing (with the source's partition count). Never
    /// the source itself.
    #[arg(long)]
    to_topic: String,
}

pub async fn run(settings: &Settings, args: ReplayArgs) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| tickwatch_runtime::produce::now_us() / 1000);
    if to <= args.from {
        anyhow::bail!("--to must be after --from");
    }
    let range = (args.from, to);
    match (&args.topic, &args.from_parquet) {
        (Some(topic), _) => broker::run(settings, topic, range, &args.to_topic).await,
        (None, Some(url)) => {
            let only = parquet::Only { venue: args.venue.clone(), instrument: args.instrument.clone() };
            parquet::run(settings, url, &only, range, &args.to_topic).await
        }
        (None, None) => unreachable!("clap requires --topic or --from-parquet"),
    }
}

/// The replay header of the record at `offset` of `topic`'s `partition`.
fn replay_header(topic: &str, partition: i32, offset: i64) -> (Vec<u8>, Option<Vec<u8>>) {
    (REPLAY_HEADER.as_bytes().to_vec(), Some(format!("{topic}/{partition}/{offset}").into_bytes()))
}

/// A consumer for metadata (and, from the broker, for reading).
fn metadata_consumer(settings: &Settings) -> anyhow::Result<BaseConsumer> {
    let b = &settings.broker;
    Ok(tickwatch_runtime::broker::client_config(b)
        .set("group.id", format!("{}tickwatch-replay-{}", b.client_id, std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .create()?)
}

/// The target's partition count; a missing target is created with `partitions`.
async fn target_partitions(
    settings: &Settings,
    consumer: &BaseConsumer,
    to_topic: &str,
    partitions: i32,
) -> anyhow::Result<i32> {
    if let Some(n) = broker::partition_count(consumer, to_topic)? {
        return Ok(n);
    }
    let spec = TopicSpec { name: to_topic.to_string(), partitions, replication: 1, configs: vec![] };
    tickwatch_runtime::broker::create_topics(&settings.broker, &[spec]).await?;
    tracing::info!(topic = %to_topic, partitions, "created the target topic");
    Ok(partitions)
}
