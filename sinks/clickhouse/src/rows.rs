//! One RowBinary row type per hot table, borrowing from the decoded record so that a batch is
//! kept once (as records, for a retry) and serialized straight from it.
//!
//! Column types (schemas/clickhouse/): `Decimal(38, 18)` is the `i128` count of 10^-18 units
//! (exactly `Decimal::units`), `DateTime64(6, 'UTC')` is `i64` microseconds, `Enum8` is `i8`
//! with the values the DDL names, `Map(String, String)` is a list of pairs.

use clickhouse::Row;
use serde::Serialize;
use tickwatch_model::{
    Alert, AlertSeverity, AlertState, AvroRecord, BookTop, InstrumentKind, Kline, KlineVerification, QualityMinute,
    QuarantineRecord, ReferencePrice, TakerSide, Trade,
};

/// A record type with a hot table of its own.
pub trait HotTable: AvroRecord + Send + Sync + 'static {
    /// The row type (its `'static` form; rows are written with the record's lifetime).
    type Row: clickhouse::RowWrite;
    /// Table name (in the configured database).
    const TABLE: &'static str;
    fn row(&self) -> <Self::Row as Row>::Value<'_>;
    /// The venue and when the ingestor received the record (µs), for
    /// `event_end2end_latency_ms`; `None` for records derived later (bars, signals, alerts).
    fn received(&self) -> Option<(&str, i64)> {
        None
    }
    /// Records kept out of the clean data: the topic they came from and the reason, for
    /// `dq_drop_counter_total`.
    fn dropped(&self) -> Option<(&str, &str)> {
        None
    }
    /// Why the record cannot become a row although it decoded (a field its column cannot
    /// hold); such a record goes to the quarantine table instead of failing the insert.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

fn kind(k: InstrumentKind) -> i8 {
    match k {
        InstrumentKind::Spot => 1,
        InstrumentKind::Perp => 2,
        InstrumentKind::Future => 3,
    }
}

#[derive(Row, Serialize)]
pub struct TradeRow<'a> {
    venue: &'a str,
    instrument: &'a str,
    base: &'a str,
    quote: &'a str,
    kind: i8,
    expiry: Option<i64>,
    venue_symbol: &'a str,
    trade_id: &'a str,
    price: i128,
    size: i128,
    taker_side: i8,
    event_time: i64,
    receive_time: i64,
    source_lag_ms: i64,
    sequence: Option<i64>,
}

impl HotTable for Trade {
    type Row = TradeRow<'static>;
    const TABLE: &'static str = "trades";
    fn received(&self) -> Option<(&str, i64)> {
        Some((&self.venue, self.receive_time_us))
    }
    fn row(&self) -> TradeRow<'_> {
        TradeRow {
            venue: &self.venue,
            instrument: &self.instrument,
            base: &self.base,
            quote: &self.quote,
            kind: kind(self.kind),
            expiry: self.expiry_us,
            venue_symbol: &self.venue_symbol,
            trade_id: &self.trade_id,
            price: self.price.units(),
            size: self.size.units(),
            taker_side: match self.taker_side {
                TakerSide::Unknown => 0,
                TakerSide::Buy => 1,
                TakerSide::Sell => 2,
            },
            event_time: self.event_time_us,
            receive_time: self.receive_time_us,
            source_lag_ms: self.source_lag_ms,
            sequence: self.sequence,
        }
    }
}

#[derive(Row, Serialize)]
pub struct ReferenceRow<'a> {
    venue: &'a str,
    instrument: &'a str,
    venue_symbol: &'a str,
    mark_price: Option<i128>,
    index_price: Option<i128>,
    funding_rate: Option<i128>,
    next_funding_time: Option<i64>,
    event_time: i64,
    receive_time: i64,
    source_lag_ms: i64,
    feeds: &'static str,
}

/// Which fields a reference record carries (the `feeds` key column, 003_reference_feeds.sql).
pub fn feeds(r: &ReferencePrice) -> &'static str {
    let funding = r.funding_rate.is_some() || r.next_funding_time_us.is_some();
    match (r.mark_price.is_some(), r.index_price.is_some(), funding) {
        (true, true, true) => "mark index funding",
        (true, true, false) => "mark index",
        (true, false, true) => "mark funding",
        (false, true, true) => "index funding",
        (true, false, false) => "mark",
        (false, true, false) => "index",
        (false, false, true) => "funding",
        (false, false, false) => "",
    }
}

impl HotTable for ReferencePrice {
    type Row = ReferenceRow<'static>;
    const TABLE: &'static str = "reference_prices";
    fn received(&self) -> Option<(&str, i64)> {
        Some((&self.venue, self.receive_time_us))
    }
    fn row(&self) -> ReferenceRow<'_> {
        ReferenceRow {
            venue: &self.venue,
            instrument: &self.instrument,
            venue_symbol: &self.venue_symbol,
            mark_price: self.mark_price.map(|d| d.units()),
            index_price: self.index_price.map(|d| d.units()),
            funding_rate: self.funding_rate.map(|d| d.units()),
            next_funding_time: self.next_funding_time_us,
            event_time: self.event_time_us,
            receive_time: self.receive_time_us,
            source_lag_ms: self.source_lag_ms,
            feeds: feeds(self),
        }
    }
}

#[derive(Row, Serialize)]
pub struct KlineRow<'a> {
    venue: &'a str,
    instrument: &'a str,
    interval: &'a str,
    open_time: i64,
    close_time: i64,
    open: i128,
    high: i128,
    low: i128,
    close: i128,
    volume: i128,
    quote_volume: i128,
    vwap: i128,
    trade_count: i64,
    taker_buy_volume: i128,
    taker_buy_quote_volume: i128,
    first_trade_id: &'a str,
    last_trade_id: &'a str,
    version: i64,
    verification: i8,
    emitted_at: i64,
}

impl HotTable for Kline {
    type Row = KlineRow<'static>;
    const TABLE: &'static str = "klines";
    fn row(&self) -> KlineRow<'_> {
        KlineRow {
            venue: &self.venue,
            instrument: &self.instrument,
            interval: &self.interval,
            open_time: self.open_time_us,
            close_time: self.close_time_us,
            open: self.open.units(),
            high: self.high.units(),
            low: self.low.units(),
            close: self.close.units(),
            volume: self.volume.units(),
            quote_volume: self.quote_volume.units(),
            vwap: self.vwap.units(),
            trade_count: self.trade_count,
            taker_buy_volume: self.taker_buy_volume.units(),
            taker_buy_quote_volume: self.taker_buy_quote_volume.units(),
            first_trade_id: &self.first_trade_id,
            last_trade_id: &self.last_trade_id,
            version: self.version,
            verification: match self.verification {
                KlineVerification::Unverified => 0,
                KlineVerification::Verified => 1,
                KlineVerification::Suspect => 2,
            },
            emitted_at: self.emitted_at_us,
        }
    }
}

#[derive(Row, Serialize)]
pub struct QuarantineRow<'a> {
    source_topic: &'a str,
    source_partition: i32,
    source_offset: i64,
    #[serde(with = "serde_bytes")]
    original_key: Option<&'a [u8]>,
    #[serde(with = "serde_bytes")]
    original_value: &'a [u8],
    reason: &'a str,
    rule: &'a str,
    detail: &'a str,
    venue: Option<&'a str>,
    instrument: Option<&'a str>,
    quarantined_at: i64,
}

impl HotTable for QuarantineRecord {
    type Row = QuarantineRow<'static>;
    const TABLE: &'static str = "quarantine";
    fn dropped(&self) -> Option<(&str, &str)> {
        Some((&self.source_topic, &self.reason))
    }
    fn row(&self) -> QuarantineRow<'_> {
        QuarantineRow {
            source_topic: &self.source_topic,
            source_partition: self.source_partition,
            source_offset: self.source_offset,
            original_key: self.original_key.as_deref(),
            original_value: &self.original_value,
            reason: &self.reason,
            rule: &self.rule,
            detail: &self.detail,
            venue: self.venue.as_deref(),
            instrument: self.instrument.as_deref(),
            quarantined_at: self.quarantined_at_us,
        }
    }
}

#[derive(Row, Serialize)]
pub struct AlertRow<'a> {
    fingerprint: &'a str,
    rule: &'a str,
    severity: i8,
    state: i8,
    venue: Option<&'a str>,
    instrument: Option<&'a str>,
    value: Option<f64>,
    threshold: Option<f64>,
    summary: &'a str,
    labels: Vec<(&'a str, &'a str)>,
    started_at: i64,
    emitted_at: i64,
}

impl HotTable for Alert {
    type Row = AlertRow<'static>;
    const TABLE: &'static str = "alerts";
    fn row(&self) -> AlertRow<'_> {
        AlertRow {
            fingerprint: &self.fingerprint,
            rule: &self.rule,
            severity: match self.severity {
                AlertSeverity::P1 => 1,
                AlertSeverity::P2 => 2,
                AlertSeverity::P3 => 3,
            },
            state: match self.state {
                AlertState::Firing => 1,
                AlertState::Resolved => 2,
            },
            venue: self.venue.as_deref(),
            instrument: self.instrument.as_deref(),
            value: self.value,
            threshold: self.threshold,
            summary: &self.summary,
            labels: self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            started_at: self.started_at_us,
            emitted_at: self.emitted_at_us,
        }
    }
}

#[derive(Row, Serialize)]
pub struct QualityRow<'a> {
    venue: &'a str,
    instrument: &'a str,
    channel: &'a str,
    minute: i64,
    messages: i64,
    gaps: i64,
    lost_messages: Option<i64>,
    out_of_order: i64,
    duplicates: i64,
    reconnects: i64,
    resyncs: i64,
    quarantined: i64,
    max_silence_ms: i64,
    source_lag_p95_ms: Option<f64>,
}

impl HotTable for QualityMinute {
    type Row = QualityRow<'static>;
    const TABLE: &'static str = "data_quality_minute";
    fn row(&self) -> QualityRow<'_> {
        QualityRow {
            venue: &self.venue,
            instrument: &self.instrument,
            channel: &self.channel,
            minute: self.minute_us,
            messages: self.messages,
            gaps: self.gaps,
            lost_messages: self.lost_messages,
            out_of_order: self.out_of_order,
            duplicates: self.duplicates,
            reconnects: self.reconnects,
            resyncs: self.resyncs,
            quarantined: self.quarantined,
            max_silence_ms: self.max_silence_ms,
            source_lag_p95_ms: self.source_lag_p95_ms,
        }
    }
}

#[derive(Row, Serialize)]
pub struct BookTopRow<'a> {
    venue: &'a str,
    instrument: &'a str,
    interval: &'a str,
    window_start: i64,
    window_end: i64,
    last_update_id: i64,
    updates: i64,
    bid_price: Option<i128>,
    bid_size: Option<i128>,
    ask_price: Option<i128>,
    ask_size: Option<i128>,
    depth_levels: i32,
    bid_depth: i128,
    ask_depth: i128,
    imbalance: Option<f64>,
    version: i64,
    emitted_at: i64,
}

impl HotTable for BookTop {
    type Row = BookTopRow<'static>;
    const TABLE: &'static str = "book_tops";
    fn row(&self) -> BookTopRow<'_> {
        BookTopRow {
            venue: &self.venue,
            instrument: &self.instrument,
            interval: &self.interval,
            window_start: self.window_start_us,
            window_end: self.window_end_us,
            last_update_id: self.last_update_id,
            updates: self.updates,
            bid_price: self.bid_price.map(|d| d.units()),
            bid_size: self.bid_size.map(|d| d.units()),
            ask_price: self.ask_price.map(|d| d.units()),
            ask_size: self.ask_size.map(|d| d.units()),
            depth_levels: self.depth_levels,
            bid_depth: self.bid_depth.units(),
            ask_depth: self.ask_depth.units(),
            imbalance: self.imbalance,
            version: self.version,
            emitted_at: self.emitted_at_us,
        }
    }
}
