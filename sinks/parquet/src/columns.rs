//! One Arrow schema per dataset, with the hot table's column names and types: decimals as
//! `Decimal128(38, 18)` (Parquet DECIMAL, the exact venue value), times as microsecond
//! timestamps in UTC, enums as their names. Each row also says where it came from
//! (`source_topic`, `source_partition`, `source_offset`), so that a file can be traced back
//! to the records it holds.

use arrow_array::builder::{Decimal128Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};
use tickwatch_model::{
    AvroRecord, Decimal, InstrumentKind, Kline, KlineVerification, ReferencePrice, TakerSide, Trade,
};

/// Where a record was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub partition: i32,
    pub offset: i64,
}

/// A record type with a cold dataset.
pub trait ColdRecord: AvroRecord + Send + 'static {
    fn venue(&self) -> &str;
    fn instrument(&self) -> &str;
    /// The time that places the record in its day and hour.
    fn event_time_us(&self) -> i64;
    fn arrow_schema() -> SchemaRef;
    /// The records as one Arrow batch of [`ColdRecord::schema`].
    fn batch(topic: &str, records: &[(Source, Self)]) -> Result<RecordBatch, ArrowError>;
    /// Why the record stays out of the cold history (`None`: it is stored). Such a record is
    /// counted and its offset committed like a stored one's.
    fn withheld(&self) -> Option<&'static str> {
        None
    }
    /// The natural key of the row, for record types whose topic can carry the same row at
    /// several offsets (a republished record): a file keeps the first. `None`: every record
    /// is its own row.
    fn row_key(&self) -> Option<String> {
        None
    }
}

pub(crate) fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}
pub(crate) fn dec() -> DataType {
    DataType::Decimal128(38, 18)
}
pub(crate) fn utf8() -> DataType {
    DataType::Utf8
}

pub(crate) fn schema_of(fields: &[(&str, DataType, bool)]) -> SchemaRef {
    let mut all: Vec<Field> = fields.iter().map(|(n, t, null)| Field::new(*n, t.clone(), *null)).collect();
    all.push(Field::new("source_topic", utf8(), false));
    all.push(Field::new("source_partition", DataType::Int32, false));
    all.push(Field::new("source_offset", DataType::Int64, false));
    Arc::new(Schema::new(all))
}

/// Column builders, filled a row at a time.
pub(crate) struct Columns {
    arrays: Vec<ArrayRef>,
}

impl Columns {
    pub(crate) fn new() -> Columns {
        Columns { arrays: Vec::new() }
    }
    pub(crate) fn text<'a>(&mut self, values: impl Iterator<Item = Option<&'a str>>) {
        let mut b = StringBuilder::new();
        values.for_each(|v| b.append_option(v));
        self.arrays.push(Arc::new(b.finish()));
    }
    pub(crate) fn decimal(&mut self, values: impl Iterator<Item = Option<Decimal>>) -> Result<(), ArrowError> {
        let mut b = Decimal128Builder::new();
        values.for_each(|v| b.append_option(v.map(Decimal::units)));
        self.arrays.push(Arc::new(b.finish().with_precision_and_scale(38, 18)?));
        Ok(())
    }
    pub(crate) fn time(&mut self, values: impl Iterator<Item = Option<i64>>) {
        let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        values.for_each(|v| b.append_option(v));
        self.arrays.push(Arc::new(b.finish()));
    }
    pub(crate) fn int(&mut self, values: impl Iterator<Item = Option<i64>>) {
        let mut b = Int64Builder::new();
        values.for_each(|v| b.append_option(v));
        self.arrays.push(Arc::new(b.finish()));
    }
    pub(crate) fn int32(&mut self, values: impl Iterator<Item = Option<i32>>) {
        let mut b = Int32Builder::new();
        values.for_each(|v| b.append_option(v));
        self.arrays.push(Arc::new(b.finish()));
    }
    pub(crate) fn source<T>(
        mut self,
        topic: &str,
        records: &[(Source, T)],
        schema: SchemaRef,
    ) -> Result<RecordBatch, ArrowError> {
        self.text(records.iter().map(|_| Some(topic)));
        let mut p = Int32Builder::new();
        records.iter().for_each(|(s, _)| p.append_value(s.partition));
        self.arrays.push(Arc::new(p.finish()));
        self.int(records.iter().map(|(s, _)| Some(s.offset)));
        RecordBatch::try_new(schema, self.arrays)
    }
}

/// The names enums are stored under (shared with the reader, [`crate::read`]).
pub(crate) const KINDS: [(InstrumentKind, &str); 3] =
    [(InstrumentKind::Spot, "SPOT"), (InstrumentKind::Perp, "PERP"), (InstrumentKind::Future, "FUTURE")];
pub(crate) const SIDES: [(TakerSide, &str); 3] =
    [(TakerSide::Unknown, "UNKNOWN"), (TakerSide::Buy, "BUY"), (TakerSide::Sell, "SELL")];
pub(crate) const VERIFICATIONS: [(KlineVerification, &str); 3] = [
    (KlineVerification::Unverified, "UNVERIFIED"),
    (KlineVerification::Verified, "VERIFIED"),
    (KlineVerification::Suspect, "SUSPECT"),
];

/// The stored name of an enum value.
pub(crate) fn name_of<T: PartialEq + Copy>(table: &[(T, &'static str)], value: T) -> &'static str {
    table.iter().find(|(v, _)| *v == value).map_or("", |(_, n)| n)
}

impl ColdRecord for Trade {
    fn venue(&self) -> &str {
        &self.venue
    }
    fn instrument(&self) -> &str {
        &self.instrument
    }
    fn event_time_us(&self) -> i64 {
        self.event_time_us
    }
    fn arrow_schema() -> SchemaRef {
        static S: OnceLock<SchemaRef> = OnceLock::new();
        S.get_or_init(|| {
            schema_of(&[
                ("venue", utf8(), false),
                ("instrument", utf8(), false),
                ("base", utf8(), false),
                ("quote", utf8(), false),
                ("kind", utf8(), false),
                ("expiry", ts(), true),
                ("venue_symbol", utf8(), false),
                ("trade_id", utf8(), false),
                ("price", dec(), false),
                ("size", dec(), false),
                ("taker_side", utf8(), false),
                ("event_time", ts(), false),
                ("receive_time", ts(), false),
                ("source_lag_ms", DataType::Int64, false),
                ("sequence", DataType::Int64, true),
            ])
        })
        .clone()
    }
    fn batch(topic: &str, records: &[(Source, Self)]) -> Result<RecordBatch, ArrowError> {
        let r = || records.iter().map(|(_, t)| t);
        let mut c = Columns::new();
        c.text(r().map(|t| Some(t.venue.as_str())));
        c.text(r().map(|t| Some(t.instrument.as_str())));
        c.text(r().map(|t| Some(t.base.as_str())));
        c.text(r().map(|t| Some(t.quote.as_str())));
        c.text(r().map(|t| Some(name_of(&KINDS, t.kind))));
        c.time(r().map(|t| t.expiry_us));
        c.text(r().map(|t| Some(t.venue_symbol.as_str())));
        c.text(r().map(|t| Some(t.trade_id.as_str())));
        c.decimal(r().map(|t| Some(t.price)))?;
        c.decimal(r().map(|t| Some(t.size)))?;
        c.text(r().map(|t| Some(name_of(&SIDES, t.taker_side))));
        c.time(r().map(|t| Some(t.event_time_us)));
        c.time(r().map(|t| Some(t.receive_time_us)));
        c.int(r().map(|t| Some(t.source_lag_ms)));
        c.int(r().map(|t| t.sequence));
        c.source(topic, records, Self::arrow_schema())
    }
}

impl ColdRecord for Kline {
    fn venue(&self) -> &str {
        &self.venue
    }
    fn instrument(&self) -> &str {
        &self.instrument
    }
    fn event_time_us(&self) -> i64 {
        self.open_time_us
    }
    fn arrow_schema() -> SchemaRef {
        static S: OnceLock<SchemaRef> = OnceLock::new();
        S.get_or_init(|| {
            let mut f = vec![
                ("venue", utf8(), false),
                ("instrument", utf8(), false),
                ("interval", utf8(), false),
                ("open_time", ts(), false),
                ("close_time", ts(), false),
            ];
            for name in ["open", "high", "low", "close", "volume", "quote_volume", "vwap"] {
                f.push((name, dec(), false));
            }
            f.push(("trade_count", DataType::Int64, false));
            f.push(("taker_buy_volume", dec(), false));
            f.push(("taker_buy_quote_volume", dec(), false));
            f.push(("first_trade_id", utf8(), false));
            f.push(("last_trade_id", utf8(), false));
            f.push(("version", DataType::Int64, false));
            f.push(("verification", utf8(), false));
            f.push(("emitted_at", ts(), false));
            schema_of(&f)
        })
        .clone()
    }
    fn batch(topic: &str, records: &[(Source, Self)]) -> Result<RecordBatch, ArrowError> {
        let r = || records.iter().map(|(_, k)| k);
        let mut c = Columns::new();
        c.text(r().map(|k| Some(k.venue.as_str())));
        c.text(r().map(|k| Some(k.instrument.as_str())));
        c.text(r().map(|k| Some(k.interval.as_str())));
        c.time(r().map(|k| Some(k.open_time_us)));
        c.time(r().map(|k| Some(k.close_time_us)));
        let fields: [fn(&Kline) -> Decimal; 7] =
            [|k| k.open, |k| k.high, |k| k.low, |k| k.close, |k| k.volume, |k| k.quote_volume, |k| k.vwap];
        for field in fields {
            c.decimal(r().map(|k| Some(field(k))))?;
        }
        c.int(r().map(|k| Some(k.trade_count)));
        c.decimal(r().map(|k| Some(k.taker_buy_volume)))?;
        c.decimal(r().map(|k| Some(k.taker_buy_quote_volume)))?;
        c.text(r().map(|k| Some(k.first_trade_id.as_str())));
        c.text(r().map(|k| Some(k.last_trade_id.as_str())));
        c.int(r().map(|k| Some(k.version)));
        c.text(r().map(|k| Some(name_of(&VERIFICATIONS, k.verification))));
        c.time(r().map(|k| Some(k.emitted_at_us)));
        c.source(topic, records, Self::arrow_schema())
    }
}

impl ColdRecord for ReferencePrice {
    fn venue(&self) -> &str {
        &self.venue
    }
    fn instrument(&self) -> &str {
        &self.instrument
    }
    fn event_time_us(&self) -> i64 {
        self.event_time_us
    }
    fn arrow_schema() -> SchemaRef {
        static S: OnceLock<SchemaRef> = OnceLock::new();
        S.get_or_init(|| {
            schema_of(&[
                ("venue", utf8(), false),
                ("instrument", utf8(), false),
                ("venue_symbol", utf8(), false),
                ("mark_price", dec(), true),
                ("index_price", dec(), true),
                ("funding_rate", dec(), true),
                ("next_funding_time", ts(), true),
                ("event_time", ts(), false),
                ("receive_time", ts(), false),
                ("source_lag_ms", DataType::Int64, false),
            ])
        })
        .clone()
    }
    fn batch(topic: &str, records: &[(Source, Self)]) -> Result<RecordBatch, ArrowError> {
        let r = || records.iter().map(|(_, p)| p);
        let mut c = Columns::new();
        c.text(r().map(|p| Some(p.venue.as_str())));
        c.text(r().map(|p| Some(p.instrument.as_str())));
        c.text(r().map(|p| Some(p.venue_symbol.as_str())));
        c.decimal(r().map(|p| p.mark_price))?;
        c.decimal(r().map(|p| p.index_price))?;
        c.decimal(r().map(|p| p.funding_rate))?;
        c.time(r().map(|p| p.next_funding_time_us));
        c.time(r().map(|p| Some(p.event_time_us)));
        c.time(r().map(|p| Some(p.receive_time_us)));
        c.int(r().map(|p| Some(p.source_lag_ms)));
        c.source(topic, records, Self::arrow_schema())
    }
}
