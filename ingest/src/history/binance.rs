//! Binance `GET /api/v3/klines` (spot) and `/fapi/v1/klines` (USD-M): arrays of
//! `[open time, open, high, low, close, volume, close time, quote volume, trades,
//! taker buy base, taker buy quote, ignore]`, oldest first, up to 1,000 a page.

use super::{decimal, garbage_detail, Page, PageRequest, VenueBar};
use crate::binance::records::{AggTrade, Source, SPOT, USDM};
use serde_json::Value;
use tickwatch_model::RawTrade;

/// Aggregate trades per page (the venue's maximum).
pub(super) const TRADE_PAGE: usize = 1_000;

/// Where an `aggTrades` page starts: within a time window (less than an hour long, both
/// ends inclusive), or at a trade id.
pub(super) enum TradesFrom {
    Window { from_ms: i64, to_ms: i64 },
    Id(i64),
}

/// `GET /api/v3/aggTrades` (spot), `/fapi/v1/aggTrades` (USD-M): `[{"a": id, "p", "q",
/// "f", "l", "T": time, "m": buyer is maker}]`, oldest first.
pub(super) fn trades_request(usdm: bool, symbol: &str, from: TradesFrom) -> PageRequest {
    let mut query = vec![("symbol", symbol.to_string()), ("limit", TRADE_PAGE.to_string())];
    match from {
        TradesFrom::Window { from_ms, to_ms } => {
            query.extend([("startTime", from_ms.to_string()), ("endTime", (to_ms - 1).to_string())])
        }
        TradesFrom::Id(id) => query.push(("fromId", id.to_string())),
    }
    PageRequest { path: if usdm { "/fapi/v1/aggTrades" } else { "/api/v3/aggTrades" }, query }
}

/// A page of aggregate trades as the raw trades the live `aggTrade` stream gives.
pub(super) fn parse_trades(body: &str, usdm: bool, symbol: &str, receive_us: i64) -> Result<Vec<RawTrade>, String> {
    let rows: Vec<AggTrade> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let source: Source = if usdm { USDM } else { SPOT };
    rows.into_iter()
        .map(|mut t| {
            t.symbol = symbol.to_string();
            t.into_raw(source, receive_us).map_err(garbage_detail)
        })
        .collect()
}

pub(super) fn request(usdm: bool, symbol: &str, from_ms: i64, to_ms: i64) -> PageRequest {
    PageRequest {
        path: if usdm { "/fapi/v1/klines" } else { "/api/v3/klines" },
        query: vec![
            ("symbol", symbol.to_string()),
            ("interval", "1m".into()),
            ("startTime", from_ms.to_string()),
            // endTime is inclusive.
            ("endTime", (to_ms - 1).to_string()),
            ("limit", "1000".into()),
        ],
    }
}

pub(super) fn parse(body: &str) -> Result<Page, String> {
    let rows: Vec<Vec<Value>> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    rows.iter()
        .map(|r| {
            let text = |i: usize, what: &str| decimal(r.get(i).and_then(Value::as_str), what);
            Ok(VenueBar {
                open_time_ms: r.first().and_then(Value::as_i64).ok_or("open time missing")?,
                open: text(1, "open")?,
                high: text(2, "high")?,
                low: text(3, "low")?,
                close: text(4, "close")?,
                volume: text(5, "volume")?,
                quote_volume: Some(text(7, "quote volume")?),
                trade_count: Some(r.get(8).and_then(Value::as_i64).ok_or("trade count missing")?),
                taker_buy_volume: Some(text(9, "taker buy volume")?),
                taker_buy_quote_volume: Some(text(10, "taker buy quote volume")?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_example_parses_exactly() {
        let body = r#"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"]]"#;
        let bars = super::parse(body).unwrap();
        assert_eq!(bars.len(), 1);
        let b = &bars[0];
        assert_eq!(b.open_time_ms, 1_499_040_000_000);
        assert_eq!(b.high.to_string(), "0.8");
        assert_eq!(b.volume.to_string(), "148976.11427815");
        assert_eq!(b.trade_count, Some(308));
        assert_eq!(b.taker_buy_quote_volume.unwrap().to_string(), "28.46694368");
        assert!(super::parse(r#"[[1499040000000,"x"]]"#).is_err());
    }

    #[test]
    fn aggregate_trades_read_as_the_live_stream_reads_them() {
        let body = r#"[{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true,"M":true}]"#;
        let trades = super::parse_trades(body, false, "BNBBTC", 7).unwrap();
        let t = &trades[0];
        assert_eq!((t.venue.as_str(), t.market.as_str(), t.symbol.as_str()), ("binance", "spot", "BNBBTC"));
        assert_eq!((t.trade_id.as_str(), t.sequence), ("26129", Some(26129)));
        assert_eq!((t.price.to_string(), t.size.to_string()), ("0.01633102".into(), "4.70443515".into()));
        assert_eq!(t.taker_side, tickwatch_model::TakerSide::Sell, "the buyer was the maker");
        assert_eq!((t.event_time_us, t.receive_time_us), (1_498_793_709_153_000, 7));
        let usdm = super::parse_trades(body, true, "BNBUSDT", 7).unwrap();
        assert_eq!((usdm[0].venue.as_str(), usdm[0].market.as_str()), ("binance-usdm", "linear"));
        assert!(super::parse_trades(r#"[{"a":1,"p":"-x","q":"1","T":1,"m":false}]"#, false, "X", 0).is_err());
    }
}
