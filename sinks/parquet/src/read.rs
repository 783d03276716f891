//! The history read back: a stored file's rows as the records they were written from, each
//! with where the writer read it (topic, partition, offset), for `tickwatch replay
//! --from-parquet`. Decimals come back from their exact units, times from microseconds,
//! enums from their stored names.

use crate::columns::{ColdRecord, Source, KINDS, SIDES, VERIFICATIONS};
use arrow_array::{
    Array, Decimal128Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tickwatch_model::{Decimal, InstrumentId, Kline, ReferencePrice, Trade};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a Parquet file of ours: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("column `{0}` is missing or not of the type the writer gives it")]
    Column(&'static str),
    #[error("column `{column}` row {row}: {why}")]
    Value { column: &'static str, row: usize, why: String },
}

/// A stored row with where it was read from: its source topic, partition and offset.
pub type StoredRow<T> = (String, Source, T);

/// The value of a required column, which must not be null.
fn required<T>(value: Option<T>, column: &'static str, row: usize) -> Result<T, ReadError> {
    value.ok_or(ReadError::Value { column, row, why: "null".into() })
}

/// A record type whose files can be read back.
pub trait FromCold: ColdRecord {
    fn from_row(c: &Row<'_>, row: usize) -> Result<Self, ReadError>;
}

/// Every row of a stored file, in the file's order.
pub fn read_file<T: FromCold>(body: Vec<u8>) -> Result<Vec<StoredRow<T>>, ReadError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(body))?.build()?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| ReadError::Parquet(e.into()))?;
        let c = Row { batch: &batch };
        for r in 0..batch.num_rows() {
            let partition = c.column::<Int32Array>("source_partition")?.value(r);
            let source = Source { partition, offset: c.int("source_offset", r)? };
            out.push((c.text("source_topic", r)?, source, T::from_row(&c, r)?));
        }
    }
    Ok(out)
}

/// The columns of one batch, read a value at a time.
pub struct Row<'a> {
    batch: &'a RecordBatch,
}

impl Row<'_> {
    fn column<A: 'static>(&self, name: &'static str) -> Result<&A, ReadError> {
        self.batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<A>()).ok_or(ReadError::Column(name))
    }

    fn present<A: Array>(a: &A, name: &'static str, r: usize) -> Result<(), ReadError> {
        match a.is_null(r) {
            true => Err(ReadError::Value { column: name, row: r, why: "null in a required column".into() }),
            false => Ok(()),
        }
    }

    pub fn text(&self, name: &'static str, r: usize) -> Result<String, ReadError> {
        let a = self.column::<StringArray>(name)?;
        Self::present(a, name, r)?;
        Ok(a.value(r).to_string())
    }

    pub fn text_opt(&self, name: &'static str, r: usize) -> Result<Option<String>, ReadError> {
        let a = self.column::<StringArray>(name)?;
        Ok((!a.is_null(r)).then(|| a.value(r).to_string()))
    }

    pub fn decimal_opt(&self, name: &'static str, r: usize) -> Result<Option<Decimal>, ReadError> {
        let a = self.column::<Decimal128Array>(name)?;
        if a.scale() != 18 {
            return Err(ReadError::Column(name));
        }
        Ok((!a.is_null(r)).then(|| Decimal::from_units(a.value(r))))
    }

    pub fn decimal(&self, name: &'static str, r: usize) -> Result<Decimal, ReadError> {
        required(self.decimal_opt(name, r)?, name, r)
    }

    pub fn time_opt(&self, name: &'static str, r: usize) -> Result<Option<i64>, ReadError> {
        let a = self.column::<TimestampMicrosecondArray>(name)?;
        Ok((!a.is_null(r)).then(|| a.value(r)))
    }

    pub fn time(&self, name: &'static str, r: usize) -> Result<i64, ReadError> {
        required(self.time_opt(name, r)?, name, r)
    }

    pub fn int_opt(&self, name: &'static str, r: usize) -> Result<Option<i64>, ReadError> {
        let a = self.column::<Int64Array>(name)?;
        Ok((!a.is_null(r)).then(|| a.value(r)))
    }

    pub fn int(&self, name: &'static str, r: usize) -> Result<i64, ReadError> {
        required(self.int_opt(name, r)?, name, r)
    }

    pub fn int32_opt(&self, name: &'static str, r: usize) -> Result<Option<i32>, ReadError> {
        let a = self.column::<Int32Array>(name)?;
        Ok((!a.is_null(r)).then(|| a.value(r)))
    }

    pub fn int32(&self, name: &'static str, r: usize) -> Result<i32, ReadError> {
        required(self.int32_opt(name, r)?, name, r)
    }

    /// An enum stored by name.
    pub fn named<T: Copy>(&self, name: &'static str, r: usize, table: &[(T, &str)]) -> Result<T, ReadError> {
        let text = self.text(name, r)?;
        table.iter().find(|(_, n)| *n == text).map(|(v, _)| *v).ok_or_else(|| ReadError::Value {
            column: name,
            row: r,
            why: format!("`{text}` is none of {:?}", table.iter().map(|(_, n)| n).collect::<Vec<_>>()),
        })
    }
}

impl FromCold for Trade {
    fn from_row(c: &Row<'_>, r: usize) -> Result<Trade, ReadError> {
        Ok(Trade {
            venue: c.text("venue", r)?,
            instrument: c.text("instrument", r)?,
            base: c.text("base", r)?,
            quote: c.text("quote", r)?,
            kind: c.named("kind", r, &KINDS)?,
            expiry_us: c.time_opt("expiry", r)?,
            venue_symbol: c.text("venue_symbol", r)?,
            trade_id: c.text("trade_id", r)?,
            price: c.decimal("price", r)?,
            size: c.decimal("size", r)?,
            taker_side: c.named("taker_side", r, &SIDES)?,
            event_time_us: c.time("event_time", r)?,
            receive_time_us: c.time("receive_time", r)?,
            source_lag_ms: c.int("source_lag_ms", r)?,
            sequence: c.int_opt("sequence", r)?,
        })
    }
}

impl FromCold for Kline {
    fn from_row(c: &Row<'_>, r: usize) -> Result<Kline, ReadError> {
        Ok(Kline {
            venue: c.text("venue", r)?,
            instrument: c.text("instrument", r)?,
            interval: c.text("interval", r)?,
            open_time_us: c.time("open_time", r)?,
            close_time_us: c.time("close_time", r)?,
            open: c.decimal("open", r)?,
            high: c.decimal("high", r)?,
            low: c.decimal("low", r)?,
            close: c.decimal("close", r)?,
            volume: c.decimal("volume", r)?,
            quote_volume: c.decimal("quote_volume", r)?,
            vwap: c.decimal("vwap", r)?,
            trade_count: c.int("trade_count", r)?,
            taker_buy_volume: c.decimal("taker_buy_volume", r)?,
            taker_buy_quote_volume: c.decimal("taker_buy_quote_volume", r)?,
            first_trade_id: c.text("first_trade_id", r)?,
            last_trade_id: c.text("last_trade_id", r)?,
            version: c.int("version", r)?,
            verification: c.named("verification", r, &VERIFICATIONS)?,
            emitted_at_us: c.time("emitted_at", r)?,
        })
    }
}

/// The reference files keep the instrument, not its parts: base, quote, kind and expiry
/// come back from the canonical id, as the transform derived them.
impl FromCold for ReferencePrice {
    fn from_row(c: &Row<'_>, r: usize) -> Result<ReferencePrice, ReadError> {
        let instrument = c.text("instrument", r)?;
        let id: InstrumentId =
            instrument.parse().map_err(|e| ReadError::Value { column: "instrument", row: r, why: format!("{e}") })?;
        Ok(ReferencePrice {
            venue: c.text("venue", r)?,
            base: id.base.clone(),
            quote: id.quote.clone(),
            kind: id.kind,
            expiry_us: id.expiry.map(|e| e.to_unix_micros()),
            instrument,
            venue_symbol: c.text("venue_symbol", r)?,
            mark_price: c.decimal_opt("mark_price", r)?,
            index_price: c.decimal_opt("index_price", r)?,
            funding_rate: c.decimal_opt("funding_rate", r)?,
            next_funding_time_us: c.time_opt("next_funding_time", r)?,
            event_time_us: c.time("event_time", r)?,
            receive_time_us: c.time("receive_time", r)?,
            source_lag_ms: c.int("source_lag_ms", r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwatch_model::{InstrumentKind, KlineVerification, TakerSide};

    fn write<T: ColdRecord>(records: &[(Source, T)]) -> Vec<u8> {
        crate::files::encode("p.topic", records, 3).unwrap()
    }

    #[test]
    fn a_file_reads_back_as_the_records_it_was_written_from() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let trade = Trade {
            venue: "okx".into(),
            instrument: "BTC-USDT-PERP".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            kind: InstrumentKind::Perp,
            expiry_us: None,
            venue_symbol: "BTC-USDT-SWAP".into(),
            trade_id: "42".into(),
            price: d("60000.000000000000000001"),
            size: d("0.001"),
            taker_side: TakerSide::Sell,
            event_time_us: 1_700_000_000_123_456,
            receive_time_us: 1_700_000_000_200_000,
            source_lag_ms: 77,
            sequence: None,
        };
        let trades = [(Source { partition: 1, offset: 9 }, trade.clone())];
        let back = read_file::<Trade>(write(&trades)).unwrap();
        assert_eq!(back, vec![("p.topic".to_string(), Source { partition: 1, offset: 9 }, trade)]);

        let kline = Kline {
            venue: "binance".into(),
            instrument: "BTC-USDT".into(),
            interval: "1m".into(),
            open_time_us: 60_000_000,
            close_time_us: 120_000_000,
            open: d("1"),
            high: d("2"),
            low: d("0.5"),
            close: d("1.5"),
            volume: d("3"),
            quote_volume: d("4.5"),
            vwap: d("1.5"),
            trade_count: 3,
            taker_buy_volume: d("1"),
            taker_buy_quote_volume: d("2"),
            first_trade_id: "1".into(),
            last_trade_id: "3".into(),
            version: 2,
            verification: KlineVerification::Suspect,
            emitted_at_us: 130_000_000,
        };
        let back = read_file::<Kline>(write(&[(Source { partition: 0, offset: 0 }, kline.clone())])).unwrap();
        assert_eq!(back[0].2, kline);

        let reference = ReferencePrice {
            venue: "okx".into(),
            instrument: "BTC-USDT-PERP".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            kind: InstrumentKind::Perp,
            expiry_us: None,
            venue_symbol: "BTC-USDT-SWAP".into(),
            mark_price: Some(d("60000.1")),
            index_price: None,
            funding_rate: Some(d("0.0001")),
            next_funding_time_us: Some(5),
            event_time_us: 6,
            receive_time_us: 7,
            source_lag_ms: 0,
        };
        let back = read_file::<ReferencePrice>(write(&[(Source { partition: 0, offset: 3 }, reference.clone())]));
        assert_eq!(back.unwrap()[0].2, reference);

        // A trade file is no k-line file, and garbage is no file at all.
        let e = read_file::<Kline>(write(&trades)).unwrap_err().to_string();
        assert!(e.contains("column `interval`"), "{e}");
        assert!(read_file::<Trade>(b"not parquet".to_vec()).is_err());
    }
}
