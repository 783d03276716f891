//! Binance `GET /api/v3/klines` (spot) and `/fapi/v1/klines` (USD-M): arrays of
//! `[open time, open, high, low, close, volume, close time, quote volume, trades,
//! taker buy base, taker buy quote, ignore]`, oldest first, up to 1,000 a page.

use super::{decimal, Page, PageRequest, VenueBar};
use serde_json::Value;

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
}
