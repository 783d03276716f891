//! OKX pushes → raw records: `trades` → `RawTrade`, `books` → `RawBookUpdate` (snapshot or
//! delta, `seqId`/`prevSeqId` and the checksum kept), `mark-price`, `index-tickers` and
//! `funding-rate` → `RawReferencePrice` with the one field each carries.

use super::messages::{market_of, BooksData, FundingRate, IndexTicker, MarkPrice, Trade};
use crate::frame::{dec, levels, millis, Frame, GarbageKind, RawRecord};
use tickwatch_model::time::millis_to_micros;
use tickwatch_model::{BookUpdateKind, RawBookUpdate, RawReferencePrice, RawTrade, TakerSide};

pub const VENUE: &str = "okx";

pub fn trade(t: Trade<'_>, receive_ms: i64) -> Result<RawRecord, Frame> {
    let taker_side = match t.side.as_ref() {
        "buy" => TakerSide::Buy,
        "sell" => TakerSide::Sell,
        other => return Err(Frame::garbage(GarbageKind::MissingField, format!("trade side `{other}`"))),
    };
    // OKX trade ids count the instrument's trades: the sequence where they are numbers.
    let sequence = t.seq_id.or_else(|| t.trade_id.parse().ok());
    Ok(RawRecord::Trade(RawTrade {
        venue: VENUE.into(),
        market: market_of(&t.inst_id).into(),
        price: dec("px", &t.px)?,
        size: dec("sz", &t.sz)?,
        taker_side,
        event_time_us: millis_to_micros(millis("ts", &t.ts)?),
        receive_time_us: millis_to_micros(receive_ms),
        sequence,
        symbol: t.inst_id.into_owned(),
        trade_id: t.trade_id.into_owned(),
    }))
}

/// A `books` push; a book without `seqId` (older feeds) gets -1 as its update id.
pub fn book(inst_id: &str, snapshot: bool, d: &BooksData, receive_ms: i64) -> Result<RawRecord, Frame> {
    let side = |l: &[Vec<String>]| -> Result<_, Frame> {
        if l.iter().any(|x| x.len() < 2) {
            return Err(Frame::garbage(GarbageKind::MissingField, "a level with fewer than 2 fields"));
        }
        levels(l.iter().map(|x| (x[0].as_str(), x[1].as_str())))
    };
    Ok(RawRecord::Book(RawBookUpdate {
        venue: VENUE.into(),
        market: market_of(inst_id).into(),
        symbol: inst_id.into(),
        update_kind: if snapshot { BookUpdateKind::Snapshot } else { BookUpdateKind::Delta },
        first_update_id: None,
        last_update_id: d.seq_id.unwrap_or(-1),
        prev_update_id: d.prev_seq_id,
        // 0 means the venue did not compute one.
        checksum: d.checksum.filter(|c| *c != 0),
        bids: side(&d.bids)?,
        asks: side(&d.asks)?,
        event_time_us: millis_to_micros(millis("ts", &d.ts)?),
        receive_time_us: millis_to_micros(receive_ms),
    }))
}

fn reference(symbol: &str, ts: &str, receive_ms: i64) -> Result<RawReferencePrice, Frame> {
    Ok(RawReferencePrice {
        venue: VENUE.into(),
        market: market_of(symbol).into(),
        symbol: symbol.into(),
        mark_price: None,
        index_price: None,
        funding_rate: None,
        next_funding_time_us: None,
        event_time_us: millis_to_micros(millis("ts", ts)?),
        receive_time_us: millis_to_micros(receive_ms),
    })
}

pub fn mark(m: &MarkPrice, receive_ms: i64) -> Result<RawRecord, Frame> {
    let mut r = reference(&m.inst_id, &m.ts, receive_ms)?;
    r.mark_price = Some(dec("markPx", &m.mark_px)?);
    Ok(RawRecord::Reference(r))
}

/// The index as a reference price of `symbol`, a derivative that follows it.
pub fn index(i: &IndexTicker, symbol: &str, receive_ms: i64) -> Result<RawRecord, Frame> {
    let mut r = reference(symbol, &i.ts, receive_ms)?;
    r.index_price = Some(dec("idxPx", &i.idx_px)?);
    Ok(RawRecord::Reference(r))
}

/// The current rate, and `fundingTime`: when it is settled (OKX's `nextFundingTime` is the
/// settlement after that one).
pub fn funding(f: &FundingRate, receive_ms: i64) -> Result<RawRecord, Frame> {
    let mut r = reference(&f.inst_id, &f.ts, receive_ms)?;
    r.funding_rate = Some(dec("fundingRate", &f.funding_rate)?);
    let next = f.funding_time.as_deref().or(f.next_funding_time.as_deref()).filter(|t| !t.is_empty());
    r.next_funding_time_us = next.map(|t| millis("fundingTime", t)).transpose()?.map(millis_to_micros);
    Ok(RawRecord::Reference(r))
}
