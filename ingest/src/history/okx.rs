//! OKX `GET /api/v5/market/history-candles`: `[ts, o, h, l, c, vol, volCcy, volCcyQuote,
//! confirm]`, newest first, up to 100 a page; `after` asks for older than a time, `before`
//! for newer. `vol` is base currency on spot and contracts on derivatives, where `volCcy`
//! is the base currency; a bar with `confirm` 0 is still open and is left out.

use super::{decimal, garbage_detail, Page, PageRequest, VenueBar};
use crate::frame::RawRecord;
use crate::okx::messages::Trade;
use serde_json::Value;
use tickwatch_model::{InstrumentKind, RawTrade};

/// Trades per page (the venue's maximum).
pub(super) const TRADE_PAGE: usize = 100;

/// `GET /api/v5/market/history-trades`: trades older than `after`, a time (`type` 2, the
/// first page) or a trade id (`type` 1, the pages after it); newest first.
pub(super) fn trades_request(inst_id: &str, older_than: OlderThan) -> PageRequest {
    let (kind, after) = match older_than {
        OlderThan::Time(ms) => ("2", ms),
        OlderThan::TradeId(id) => ("1", id),
    };
    PageRequest {
        path: "/api/v5/market/history-trades",
        query: vec![
            ("instId", inst_id.to_string()),
            ("type", kind.into()),
            ("after", after.to_string()),
            ("limit", TRADE_PAGE.to_string()),
        ],
    }
}

pub(super) enum OlderThan {
    Time(i64),
    TradeId(i64),
}

/// A page of `{instId, side, sz, px, tradeId, ts}` as the raw trades the live `trades`
/// channel gives.
pub(super) fn parse_trades(body: &str, receive_ms: i64) -> Result<Vec<RawTrade>, String> {
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        code: &'a str,
        #[serde(default)]
        msg: String,
        #[serde(borrow, default)]
        data: Vec<Trade<'a>>,
    }
    let answer: Answer = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if answer.code != "0" {
        return Err(format!("code {}: {}", answer.code, answer.msg));
    }
    answer
        .data
        .into_iter()
        .map(|t| match crate::okx::records::trade(t, receive_ms).map_err(garbage_detail)? {
            RawRecord::Trade(t) => Ok(t),
            other => Err(format!("not a trade: {other:?}")),
        })
        .collect()
}

pub(super) fn request(inst_id: &str, from_ms: i64, to_ms: i64) -> PageRequest {
    PageRequest {
        path: "/api/v5/market/history-candles",
        query: vec![
            ("instId", inst_id.to_string()),
            ("bar", "1m".into()),
            // Both bounds are exclusive.
            ("after", to_ms.to_string()),
            ("before", (from_ms - 1).to_string()),
            ("limit", "100".into()),
        ],
    }
}

pub(super) fn parse(body: &str, kind: InstrumentKind) -> Result<Page, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let code = v["code"].as_str().unwrap_or_default();
    if code != "0" {
        return Err(format!("code {code}: {}", v["msg"].as_str().unwrap_or_default()));
    }
    let rows = v["data"].as_array().ok_or("no data array")?;
    let mut page = Vec::with_capacity(rows.len());
    for r in rows {
        let text = |i: usize, what: &str| decimal(r.get(i).and_then(Value::as_str), what);
        if r.get(8).and_then(Value::as_str) == Some("0") {
            continue;
        }
        let ts = r.get(0).and_then(Value::as_str).and_then(|t| t.parse().ok()).ok_or("ts missing")?;
        let volume = if kind == InstrumentKind::Spot { text(5, "vol")? } else { text(6, "volCcy")? };
        page.push(VenueBar {
            open_time_ms: ts,
            open: text(1, "open")?,
            high: text(2, "high")?,
            low: text(3, "low")?,
            close: text(4, "close")?,
            volume,
            quote_volume: Some(text(7, "volCcyQuote")?),
            trade_count: None,
            taker_buy_volume: None,
            taker_buy_quote_volume: None,
        });
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use tickwatch_model::InstrumentKind;

    const BODY: &str = r#"{"code":"0","msg":"","data":[["1597026383085","3.721","3.743","3.677","3.708","8422410","22698348.04828491","12698348.04828491","0"],["1597026383085","3.731","3.799","3.494","3.72","24912403","67632347.24399722","37632347.24399722","1"]]}"#;

    #[test]
    fn open_bars_are_left_out_and_volume_is_in_base_units() {
        let spot = super::parse(BODY, InstrumentKind::Spot).unwrap();
        assert_eq!(spot.len(), 1, "the bar with confirm 0 is still open");
        assert_eq!(spot[0].volume.to_string(), "24912403");
        let swap = super::parse(BODY, InstrumentKind::Perp).unwrap();
        assert_eq!(swap[0].volume.to_string(), "67632347.24399722", "volCcy: base currency on derivatives");
        assert!(super::parse(r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#, InstrumentKind::Spot).is_err());
    }

    #[test]
    fn history_trades_read_as_the_live_channel_reads_them() {
        let body = r#"{"code":"0","msg":"","data":[{"instId":"BTC-USDT-SWAP","side":"sell","sz":"0.00001","px":"29963.2","tradeId":"242720720","ts":"1654161646974","source":"0"}]}"#;
        let t = &super::parse_trades(body, 5).unwrap()[0];
        assert_eq!((t.venue.as_str(), t.market.as_str(), t.symbol.as_str()), ("okx", "swap", "BTC-USDT-SWAP"));
        assert_eq!((t.trade_id.as_str(), t.sequence), ("242720720", Some(242_720_720)));
        assert_eq!((t.price.to_string(), t.size.to_string()), ("29963.2".into(), "0.00001".into()));
        assert_eq!((t.event_time_us, t.receive_time_us), (1_654_161_646_974_000, 5_000));
        assert_eq!(t.taker_side, tickwatch_model::TakerSide::Sell);
        let limited = super::parse_trades(r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#, 0);
        assert_eq!(limited.unwrap_err(), "code 50011: Too Many Requests");
    }
}
