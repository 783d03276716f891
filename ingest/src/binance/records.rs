//! Binance frames → raw records: `aggTrade` → `RawTrade`, `depthUpdate` → `RawBookUpdate`
//! (delta), `markPriceUpdate` → `RawReferencePrice`; the REST snapshot → a snapshot record.

use super::book::BookDiff;
use super::messages::{unwrap_stream, DepthSnapshot, DepthUpdate};
use crate::flat_json::{self, once};
use crate::frame::{dec, parse, Frame, GarbageKind, RawRecord};
use serde::Deserialize;
use serde_json::value::RawValue;
use tickwatch_model::time::millis_to_micros;
use tickwatch_model::{BookUpdateKind, PriceLevel, RawBookUpdate, RawReferencePrice, RawTrade, TakerSide};

/// `<symbol>@aggTrade`, or a row of the REST `aggTrades` answer (which has no symbol).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AggTrade {
    #[serde(rename = "s", default)]
    pub(crate) symbol: String,
    #[serde(rename = "a")]
    id: i64,
    #[serde(rename = "p")]
    price: String,
    #[serde(rename = "q")]
    size: String,
    /// Trade time, ms.
    #[serde(rename = "T")]
    time: i64,
    /// The buyer was the maker: the taker sold.
    #[serde(rename = "m")]
    buyer_is_maker: bool,
}

impl AggTrade {
    /// The raw trade: the aggregate trade id is the trade id (the same live and backfilled).
    pub(crate) fn into_raw(self, source: Source, receive_time_us: i64) -> Result<RawTrade, Frame> {
        Ok(RawTrade {
            venue: source.venue.into(),
            market: source.market.into(),
            symbol: self.symbol,
            trade_id: self.id.to_string(),
            price: dec("p", &self.price)?,
            size: dec("q", &self.size)?,
            taker_side: if self.buyer_is_maker { TakerSide::Sell } else { TakerSide::Buy },
            event_time_us: millis_to_micros(self.time),
            receive_time_us,
            sequence: Some(self.id),
        })
    }
}

/// `<symbol>@markPrice` (USD-M).
#[derive(Debug, Clone, Deserialize)]
struct MarkPrice {
    #[serde(rename = "E")]
    event_time: i64,
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "p")]
    mark: String,
    #[serde(rename = "i", default)]
    index: Option<String>,
    #[serde(rename = "r", default)]
    funding_rate: Option<String>,
    #[serde(rename = "T", default)]
    next_funding: Option<i64>,
}

/// Which Binance: `venue` and `market` fields of the raw records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub venue: &'static str,
    pub market: &'static str,
}

pub const SPOT: Source = Source { venue: "binance", market: "spot" };
pub const USDM: Source = Source { venue: "binance-usdm", market: "linear" };

fn levels(side: &[(String, String)]) -> Result<Vec<PriceLevel>, Frame> {
    crate::frame::levels(side.iter().map(|(p, s)| (p.as_str(), s.as_str())))
}

/// The envelope of a combined-stream frame, its data left unparsed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// The `e` of a Binance event, read off its text (Binance writes it first).
fn event_name(data: &str) -> Option<&str> {
    let head = data.get(..48).unwrap_or(data);
    let at = head.find("\"e\":\"").or_else(|| data.find("\"e\":\""))? + 5;
    let rest = &data[at..];
    Some(&rest[..rest.find('"')?])
}

/// The event inside a combined-stream frame (or the frame itself when raw). Binance writes
/// `{"stream":"..","data":{..}}` with `data` last: its text is cut out without a parse (a
/// stream name holds no quote); any other layout is parsed for its `data`.
fn stream_data(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix("{\"stream\":\"") {
        let after_name = rest.find('"')? + 1;
        if let Some(data) = rest[after_name..].strip_prefix(",\"data\":").and_then(|d| d.strip_suffix('}')) {
            return Some(data);
        }
    }
    if text.starts_with("{\"stream\"") || text.starts_with("{\"data\"") {
        return Some(serde_json::from_str::<Envelope>(text).ok()?.data?.get());
    }
    Some(text)
}

/// What the fast path reads: a trade, or a depth diff with the diff itself (for the book).
pub enum Fast {
    Trade(RawRecord),
    Depth(RawRecord, BookDiff),
}

impl Fast {
    pub fn into_record(self) -> RawRecord {
        match self {
            Fast::Trade(r) | Fast::Depth(r, _) => r,
        }
    }
}

/// The common cases without a JSON tree: an aggTrade or a depth diff, raw or in a combined
/// stream, parsed straight into its record (the envelope and the event name read once).
/// None sends the frame down the general path, which also names the garbage.
pub fn read_fast(source: Source, text: &str, receive_ms: i64) -> Option<Fast> {
    let data = stream_data(text)?;
    match event_name(data)? {
        "aggTrade" => fast_trade(source, data, receive_ms).map(Fast::Trade),
        "depthUpdate" => {
            let u: DepthUpdate = serde_json::from_str(data).ok()?;
            let header = DepthHeader::of(&u);
            let diff = BookDiff::new(u);
            // A level the book refuses (a price of 0, a negative size) goes the general way,
            // which still publishes what is an exact decimal.
            let (bids, asks) = diff.levels.as_ref().ok()?;
            Some(Fast::Depth(header.record(source, record_levels(bids), record_levels(asks), receive_ms), diff))
        }
        _ => None,
    }
}

/// An aggTrade read field by field off its text ([`flat_json`]); None when the frame is not
/// the plain flat object Binance sends (the general path then takes or names it).
fn fast_trade(source: Source, data: &str, receive_ms: i64) -> Option<RawRecord> {
    let (mut symbol, mut id, mut price, mut size, mut time, mut maker) = (None, None, None, None, None, None);
    flat_json::each_field(data, |key, value| match key {
        "s" => once(&mut symbol, value.str()),
        "a" => once(&mut id, value.int()),
        "p" => once(&mut price, value.str()),
        "q" => once(&mut size, value.str()),
        "T" => once(&mut time, value.int()),
        "m" => once(&mut maker, value.bool()),
        _ => Some(()),
    })?;
    let (id, buyer_is_maker) = (id?, maker?);
    Some(RawRecord::Trade(RawTrade {
        venue: source.venue.into(),
        market: source.market.into(),
        symbol: symbol?.into(),
        trade_id: id.to_string(),
        price: dec("p", price?).ok()?,
        size: dec("q", size?).ok()?,
        taker_side: if buyer_is_maker { TakerSide::Sell } else { TakerSide::Buy },
        event_time_us: millis_to_micros(time?),
        receive_time_us: millis_to_micros(receive_ms),
        sequence: Some(id),
    }))
}

/// The book's levels as the raw record carries them (the decimals, without the texts).
fn record_levels(levels: &[crate::book::Level]) -> Vec<PriceLevel> {
    levels.iter().map(|l| PriceLevel { price: l.price, size: l.size }).collect()
}

/// What a depth record takes from the diff besides its levels.
struct DepthHeader {
    symbol: String,
    first_id: i64,
    last_id: i64,
    prev_last_id: Option<i64>,
    event_time_ms: i64,
}

impl DepthHeader {
    fn of(u: &DepthUpdate) -> DepthHeader {
        DepthHeader {
            symbol: u.symbol.clone(),
            first_id: u.first_id,
            last_id: u.last_id,
            prev_last_id: u.prev_last_id,
            event_time_ms: u.transaction_time.unwrap_or(u.event_time),
        }
    }

    fn record(self, source: Source, bids: Vec<PriceLevel>, asks: Vec<PriceLevel>, receive_ms: i64) -> RawRecord {
        RawRecord::Book(RawBookUpdate {
            venue: source.venue.into(),
            market: source.market.into(),
            symbol: self.symbol,
            update_kind: BookUpdateKind::Delta,
            first_update_id: Some(self.first_id),
            last_update_id: self.last_id,
            prev_update_id: self.prev_last_id,
            checksum: None,
            bids,
            asks,
            event_time_us: millis_to_micros(self.event_time_ms),
            receive_time_us: millis_to_micros(receive_ms),
        })
    }
}

fn depth_record(source: Source, u: &DepthUpdate, receive_ms: i64) -> Result<RawRecord, Frame> {
    Ok(DepthHeader::of(u).record(source, levels(&u.bids)?, levels(&u.asks)?, receive_ms))
}

/// Read one WebSocket text frame received at `receive_ms`.
pub fn read_frame(source: Source, text: &str, receive_ms: i64) -> Frame {
    match read_fast(source, text, receive_ms) {
        Some(fast) => Frame::Records(vec![fast.into_record()]),
        None => read_general(source, text, receive_ms),
    }
}

/// Any frame, through a JSON tree: what the fast path does not take.
pub fn read_general(source: Source, text: &str, receive_ms: i64) -> Frame {
    let frame: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Frame::garbage(GarbageKind::NotJson, e.to_string()),
    };
    // `{"result":null,"id":1}` acknowledges a SUBSCRIBE.
    if frame.get("id").is_some() && (frame.get("result").is_some() || frame.get("error").is_some()) {
        return Frame::Control;
    }
    let data = unwrap_stream(&frame);
    let event = data.get("e").and_then(|e| e.as_str()).unwrap_or_default();
    let receive_time_us = millis_to_micros(receive_ms);
    let record = match event {
        "aggTrade" => parse::<AggTrade>(data).and_then(|t| t.into_raw(source, receive_time_us).map(RawRecord::Trade)),
        "depthUpdate" => parse::<DepthUpdate>(data).and_then(|u| depth_record(source, &u, receive_ms)),
        "markPriceUpdate" => parse::<MarkPrice>(data).and_then(|m| {
            let opt = |field: &str, v: &Option<String>| v.as_deref().map(|t| dec(field, t)).transpose();
            Ok(RawRecord::Reference(RawReferencePrice {
                venue: source.venue.into(),
                market: source.market.into(),
                symbol: m.symbol,
                mark_price: Some(dec("p", &m.mark)?),
                index_price: opt("i", &m.index)?,
                funding_rate: opt("r", &m.funding_rate)?,
                next_funding_time_us: m.next_funding.filter(|t| *t > 0).map(millis_to_micros),
                event_time_us: millis_to_micros(m.event_time),
                receive_time_us,
            }))
        }),
        // Top of book and k-lines are not published; they are read by the checks.
        "bookTicker" | "kline" => return Frame::Control,
        // The server closes the connection soon (the venue's connector reconnects at once).
        "serverShutdown" => return Frame::Control,
        "" if data.get("u").is_some() && data.get("b").is_some() => return Frame::Control,
        other => return Frame::garbage(GarbageKind::UnknownEvent, format!("event `{other}`")),
    };
    match record {
        Ok(r) => Frame::Records(vec![r]),
        Err(garbage) => garbage,
    }
}

/// A REST depth snapshot of `symbol` as a snapshot record.
pub fn snapshot_record(
    source: Source,
    symbol: &str,
    snap: &DepthSnapshot,
    receive_ms: i64,
) -> Result<RawBookUpdate, Frame> {
    Ok(RawBookUpdate {
        venue: source.venue.into(),
        market: source.market.into(),
        symbol: symbol.into(),
        update_kind: BookUpdateKind::Snapshot,
        first_update_id: None,
        last_update_id: snap.last_update_id,
        prev_update_id: None,
        checksum: None,
        bids: levels(&snap.bids)?,
        asks: levels(&snap.asks)?,
        // The spot snapshot carries no time: the receive time stands in.
        event_time_us: millis_to_micros(receive_ms),
        receive_time_us: millis_to_micros(receive_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_records_or_garbage_by_kind() {
        let agg = r#"{"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"NKNUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":1,"l":1,"T":1633998523960,"m":true,"M":true}}"#;
        let Frame::Records(r) = read_frame(SPOT, agg, 1_633_998_524_000) else { panic!() };
        let RawRecord::Trade(t) = &r[0] else { panic!() };
        assert_eq!(
            (t.price.to_string(), t.size.to_string(), t.taker_side),
            ("0.3528".into(), "58".into(), TakerSide::Sell)
        );
        assert_eq!(
            (t.event_time_us, t.receive_time_us, t.trade_id.as_str()),
            (1_633_998_523_960_000, 1_633_998_524_000_000, "15683430")
        );
        let mark = r#"{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"1","r":"-0.00038167","T":1562306400000}"#;
        let Frame::Records(r) = read_frame(USDM, mark, 0) else { panic!() };
        let RawRecord::Reference(m) = &r[0] else { panic!() };
        assert_eq!(
            (m.funding_rate.unwrap().to_string(), m.next_funding_time_us),
            ("-0.00038167".into(), Some(1_562_306_400_000_000))
        );
        assert_eq!(read_frame(SPOT, r#"{"result":null,"id":1}"#, 0), Frame::Control);
        let kind = |text: &str| match read_frame(SPOT, text, 0) {
            Frame::Garbage { kind, .. } => kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(kind("{not json"), GarbageKind::NotJson);
        assert_eq!(kind(r#"{"e":"mystery"}"#), GarbageKind::UnknownEvent);
        assert_eq!(kind(r#"{"e":"aggTrade","s":"X"}"#), GarbageKind::MissingField);
        assert_eq!(kind(&agg.replace("0.35280000", "0.35.28")), GarbageKind::BadNumber);
    }

    #[test]
    fn a_depth_diff_is_read_once_for_the_record_and_the_book() {
        let diff = r#"{"stream":"bnbbtc@depth@100ms","data":{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10.50"]],"a":[["0.0026","100"],["0.0027","0.00000000"]]}}"#;
        let Some(Fast::Depth(RawRecord::Book(b), d)) = read_fast(SPOT, diff, 5) else {
            panic!("the fast path takes it")
        };
        let (bids, asks) = d.levels.as_ref().unwrap();
        let texts: Vec<&str> = asks.iter().map(|l| &*l.size_text).collect();
        assert_eq!(texts, ["100", "0.00000000"]);
        assert_eq!((b.bids.clone(), b.asks.clone()), (record_levels(bids), record_levels(asks)));
        assert_eq!((b.bids[0].price.to_string(), b.bids[0].size.to_string()), ("0.0024".into(), "10.5".into()));
        assert_eq!((d.first_id, d.last_id, b.first_update_id, b.last_update_id), (157, 160, Some(157), 160));
        // A price of 0 is an exact decimal but no level of a book: the general path publishes
        // the record, and the book refuses the diff only if it applies it.
        let zero = diff.replace("0.0024", "0");
        assert!(read_fast(SPOT, &zero, 5).is_none());
        let Frame::Records(r) = read_frame(SPOT, &zero, 5) else { panic!() };
        let RawRecord::Book(b) = &r[0] else { panic!() };
        assert_eq!(b.bids[0].price.to_string(), "0");
    }
}
