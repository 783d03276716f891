//! Bybit `GET /v5/market/kline`: `result.list` of `[startTime, open, high, low, close,
//! volume, turnover]`, newest first, up to 1,000 a page; `start` and `end` are inclusive.

use super::{decimal, Page, PageRequest, VenueBar};
use serde_json::Value;
use tickwatch_model::InstrumentKind;

pub(super) fn request(kind: InstrumentKind, symbol: &str, from_ms: i64, to_ms: i64) -> PageRequest {
    let category = if kind == InstrumentKind::Spot { "spot" } else { "linear" };
    PageRequest {
        path: "/v5/market/kline",
        query: vec![
            ("category", category.into()),
            ("symbol", symbol.to_string()),
            ("interval", "1".into()),
            ("start", from_ms.to_string()),
            ("end", (to_ms - 1).to_string()),
            ("limit", "1000".into()),
        ],
    }
}

pub(super) fn parse(body: &str) -> Result<Page, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if v["retCode"].as_i64() != Some(0) {
        return Err(format!("retCode {}: {}", v["retCode"], v["retMsg"].as_str().unwrap_or_default()));
    }
    let rows = v["result"]["list"].as_array().ok_or("no result.list")?;
    rows.iter()
        .map(|r| {
            let text = |i: usize, what: &str| decimal(r.get(i).and_then(Value::as_str), what);
            Ok(VenueBar {
                open_time_ms: r
                    .get(0)
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse().ok())
                    .ok_or("startTime missing")?,
                open: text(1, "open")?,
                high: text(2, "high")?,
                low: text(3, "low")?,
                close: text(4, "close")?,
                volume: text(5, "volume")?,
                quote_volume: Some(text(6, "turnover")?),
                trade_count: None,
                taker_buy_volume: None,
                taker_buy_quote_volume: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_example_parses() {
        let body = r#"{"retCode":0,"retMsg":"OK","result":{"symbol":"BTCUSD","category":"inverse","list":[["1670608800000","17071","17073","17027","17055.5","268611","15.74462667"],["1670605200000","17071.5","17071.5","17061","17071","4177","0.24469757"]]},"retExtInfo":{},"time":1672025956592}"#;
        let bars = super::parse(body).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].open_time_ms, 1_670_608_800_000);
        assert_eq!(bars[0].close.to_string(), "17055.5");
        assert_eq!(bars[1].quote_volume.unwrap().to_string(), "0.24469757");
        assert!(super::parse(r#"{"retCode":10006,"retMsg":"Too many visits!","result":{}}"#).is_err());
    }
}
