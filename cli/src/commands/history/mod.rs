//! The venues' own history in the pipeline: `tickwatch backfill` (REST k-lines into the
//! k-line topic, or trades into the raw trade topic the transforms normalize) and `tickwatch
//! reconcile` (our 1m bars checked against the venue's, corrected and flagged, with a
//! completeness report). Bars go to `<prefix>kline.1m`, keyed by instrument like the window
//! worker's, so the ClickHouse and Parquet writers keep them as they keep the live bars.

pub mod backfill;
pub mod compare;
pub mod reconcile;
pub mod report;

use anyhow::Context;
use std::path::Path;
use tickwatch_ingest::frame::RawRecord;
use tickwatch_ingest::history::{HistoryClient, HistoryVenue, VenueBar, MINUTE_MS};
use tickwatch_ingest::publish::DEDUP_HEADER;
use tickwatch_model::{
    wire, AvroRecord, Decimal, InstrumentId, InstrumentKind, Kline, KlineVerification, Notional, RawTrade,
};
use tickwatch_runtime::broker::{OwnedRecord, ReliableProducer};
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::venues::{load_symbols, Exchanges};
use tickwatch_runtime::Settings;

/// The version of every bar that carries the venue's word (backfilled, or reconciled):
/// above any version the window worker gives, the same on every run, so the same range twice
/// leaves the same rows.
pub const VENUE_CHECKED_VERSION: i64 = 1_000_000_000;

/// One (venue, instrument) whose history can be read.
pub struct Series {
    pub venue: String,
    pub instrument: String,
    pub symbol: String,
    pub kind: InstrumentKind,
    pub rest_url: String,
}

impl Series {
    /// The venue symbol and REST URL of `instrument` on `venue`, from the exchanges file (or
    /// `rest_url`) and the symbols file.
    pub fn resolve(
        settings: &Settings,
        exchanges: &Path,
        venue: &str,
        instrument: &str,
        rest_url: Option<&str>,
    ) -> anyhow::Result<Series> {
        HistoryVenue::from_name(venue)?;
        let id: InstrumentId = instrument.parse()?;
        let symbols = load_symbols(&settings.files.symbols)?;
        let symbol = symbols
            .aliases
            .iter()
            .find(|a| a.venue == venue && a.instrument == instrument)
            .map(|a| a.symbol.clone())
            .with_context(|| {
                format!(
                    "{} has no {venue} symbol for {instrument}; add it to aliases",
                    settings.files.symbols.display()
                )
            })?;
        let rest_url = match rest_url {
            Some(u) => u.to_string(),
            None => {
                let ex = Exchanges::load(exchanges)?;
                let cfg = ex.venues.get(venue).with_context(|| {
                    format!("{} has no venue {venue}; add it or pass --rest-url", exchanges.display())
                })?;
                cfg.rest_url.clone()
            }
        };
        Ok(Series { venue: venue.into(), instrument: instrument.into(), symbol, kind: id.kind, rest_url })
    }

    pub fn client(&self, rate: Option<f64>) -> HistoryClient {
        HistoryClient::new(HistoryVenue::from_name(&self.venue).expect("checked at resolve"), &self.rest_url, rate)
    }

    /// The venue's bar as a k-line of ours: the venue's numbers, verified.
    pub fn kline_of(&self, bar: &VenueBar, emitted_at_us: i64) -> Kline {
        let quote = bar.quote_volume.unwrap_or(Decimal::ZERO);
        let mut notional = Notional::default();
        notional.add_product(quote, Decimal::from_int(1));
        let vwap =
            if bar.volume.is_positive() { notional.divided_by(bar.volume).unwrap_or(bar.close) } else { bar.close };
        let open_us = bar.open_time_ms * 1000;
        Kline {
            venue: self.venue.clone(),
            instrument: self.instrument.clone(),
            interval: "1m".into(),
            open_time_us: open_us,
            close_time_us: open_us + MINUTE_MS * 1000,
            open: bar.open,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            volume: bar.volume,
            quote_volume: quote,
            vwap,
            trade_count: bar.trade_count.unwrap_or(0),
            taker_buy_volume: bar.taker_buy_volume.unwrap_or(Decimal::ZERO),
            taker_buy_quote_volume: bar.taker_buy_quote_volume.unwrap_or(Decimal::ZERO),
            first_trade_id: String::new(),
            last_trade_id: String::new(),
            version: VENUE_CHECKED_VERSION,
            verification: KlineVerification::Verified,
            emitted_at_us,
        }
    }
}

/// What the history commands publish: where it goes, its key, and its time on the broker.
pub trait Published: AvroRecord {
    /// The topic (after the prefix).
    const TOPIC: &'static str;
    fn key(&self) -> &str;
    /// The record's broker time (ms; `None`: when it is sent).
    fn timestamp_ms(&self) -> Option<i64> {
        None
    }
    fn headers(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        Vec::new()
    }
}

/// Bars keyed by instrument, like the window worker's.
impl Published for Kline {
    const TOPIC: &'static str = "kline.1m";
    fn key(&self) -> &str {
        &self.instrument
    }
}

/// Trades keyed by venue symbol with the live ingestor's `dedup_key` header. Their broker
/// time is the trade's own, so the transform's timestamp window judges a backfilled trade
/// as it judged the live one, not as days late.
impl Published for RawTrade {
    const TOPIC: &'static str = tickwatch_ingest::publish::TRADES;
    fn key(&self) -> &str {
        &self.symbol
    }
    fn timestamp_ms(&self) -> Option<i64> {
        Some(self.event_time_us.div_euclid(1000))
    }
    fn headers(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let dedup = RawRecord::Trade(self.clone()).dedup_key();
        vec![(DEDUP_HEADER.as_bytes().to_vec(), Some(dedup.into_bytes()))]
    }
}

/// Publishes records to `<prefix><T::TOPIC>`, in order, every acknowledgement awaited.
pub struct Publisher<T> {
    topic: String,
    schema_id: u32,
    producer: ReliableProducer,
    published: std::marker::PhantomData<T>,
}

/// The k-line publisher of backfill and reconciliation.
pub type KlinePublisher = Publisher<Kline>;

impl<T: Published> Publisher<T> {
    pub async fn new(settings: &Settings, topic_prefix: &str) -> anyhow::Result<Publisher<T>> {
        let topic = format!("{topic_prefix}{}", T::TOPIC);
        let registry = RegistryClient::new(&settings.registry.url);
        let schema_id = registry
            .register(&format!("{topic}-value"), T::SCHEMA_JSON)
            .await
            .with_context(|| format!("registering {topic}-value at {}", settings.registry.url))?;
        let producer = ReliableProducer::new(&settings.broker)?;
        Ok(Publisher { topic, schema_id, producer, published: std::marker::PhantomData })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub async fn publish(&self, records: &[T]) -> anyhow::Result<()> {
        let records = records
            .iter()
            .map(|r| {
                Ok(OwnedRecord {
                    topic: self.topic.clone(),
                    key: Some(r.key().as_bytes().to_vec()),
                    payload: Some(wire::frame(self.schema_id, &r.to_avro()?)),
                    headers: r.headers(),
                    timestamp_ms: r.timestamp_ms(),
                    ..OwnedRecord::default()
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.producer.send_in_order(&records).await?;
        Ok(())
    }
}

pub use tickwatch_runtime::produce::now_us;

/// `[from, to)` (to: now when not given), both rounded down to the minute; at least a minute.
pub fn minute_range(from_ms: i64, to_ms: Option<i64>) -> anyhow::Result<(i64, i64)> {
    let (from, to) = (minute_floor(from_ms), minute_floor(to_ms.unwrap_or_else(|| now_us() / 1000)));
    if to <= from {
        anyhow::bail!("--to must be at least a minute after --from");
    }
    Ok((from, to))
}

/// `t` rounded down to its minute.
pub fn minute_floor(t_ms: i64) -> i64 {
    t_ms - t_ms.rem_euclid(MINUTE_MS)
}
