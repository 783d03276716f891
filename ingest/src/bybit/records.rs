//! Bybit pushes → raw records: `publicTrade` → `RawTrade`, `orderbook` → `RawBookUpdate`
//! (`u` as the update id), `tickers` → `RawReferencePrice` (mark, index, funding and its
//! time, merged over the snapshot and its deltas).

use super::messages::{OrderbookData, PublicTrade, Tickers};
use crate::frame::{dec, levels, millis, Frame, GarbageKind, RawRecord};
use tickwatch_model::time::millis_to_micros;
use tickwatch_model::{BookUpdateKind, RawBookUpdate, RawReferencePrice, RawTrade, TakerSide};

pub const VENUE: &str = "bybit";

pub fn trade(category: &str, t: &PublicTrade, receive_ms: i64) -> Result<RawRecord, Frame> {
    let taker_side = match t.side.as_str() {
        "Buy" => TakerSide::Buy,
        "Sell" => TakerSide::Sell,
        other => return Err(Frame::garbage(GarbageKind::MissingField, format!("trade side `{other}`"))),
    };
    Ok(RawRecord::Trade(RawTrade {
        venue: VENUE.into(),
        market: category.into(),
        symbol: t.symbol.clone(),
        trade_id: t.id.clone(),
        price: dec("p", &t.price)?,
        size: dec("v", &t.size)?,
        taker_side,
        event_time_us: millis_to_micros(t.time),
        receive_time_us: millis_to_micros(receive_ms),
        sequence: t.seq,
    }))
}

pub fn book(
    category: &str,
    snapshot: bool,
    d: &OrderbookData,
    time_ms: i64,
    receive_ms: i64,
) -> Result<RawRecord, Frame> {
    let side = |l: &[(String, String)]| levels(l.iter().map(|(p, s)| (p.as_str(), s.as_str())));
    Ok(RawRecord::Book(RawBookUpdate {
        venue: VENUE.into(),
        market: category.into(),
        symbol: d.symbol.clone(),
        update_kind: if snapshot { BookUpdateKind::Snapshot } else { BookUpdateKind::Delta },
        first_update_id: None,
        last_update_id: d.update_id,
        prev_update_id: None,
        checksum: None,
        bids: side(&d.bids)?,
        asks: side(&d.asks)?,
        event_time_us: millis_to_micros(time_ms),
        receive_time_us: millis_to_micros(receive_ms),
    }))
}

/// Overlay a delta's fields on the last known ticker.
pub fn merge(known: &mut Tickers, delta: Tickers) {
    let keep = |old: &mut Option<String>, new: Option<String>| {
        if let Some(v) = new.filter(|v| !v.is_empty()) {
            *old = Some(v);
        }
    };
    keep(&mut known.mark_price, delta.mark_price);
    keep(&mut known.index_price, delta.index_price);
    keep(&mut known.funding_rate, delta.funding_rate);
    keep(&mut known.next_funding_time, delta.next_funding_time);
}

/// Does a push change any reference field?
pub fn touches_reference(t: &Tickers) -> bool {
    [&t.mark_price, &t.index_price, &t.funding_rate, &t.next_funding_time]
        .iter()
        .any(|f| f.as_deref().is_some_and(|v| !v.is_empty()))
}

pub fn reference(category: &str, t: &Tickers, time_ms: i64, receive_ms: i64) -> Result<RawRecord, Frame> {
    let opt =
        |field: &str, v: &Option<String>| v.as_deref().filter(|x| !x.is_empty()).map(|x| dec(field, x)).transpose();
    let next = t.next_funding_time.as_deref().filter(|x| !x.is_empty() && *x != "0");
    Ok(RawRecord::Reference(RawReferencePrice {
        venue: VENUE.into(),
        market: category.into(),
        symbol: t.symbol.clone(),
        mark_price: opt("markPrice", &t.mark_price)?,
        index_price: opt("indexPrice", &t.index_price)?,
        funding_rate: opt("fundingRate", &t.funding_rate)?,
        next_funding_time_us: next.map(|x| millis("nextFundingTime", x)).transpose()?.map(millis_to_micros),
        event_time_us: millis_to_micros(time_ms),
        receive_time_us: millis_to_micros(receive_ms),
    }))
}
