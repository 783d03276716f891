//! Every trade of a range from the venue's REST history, as the raw trades the live ingestor
//! publishes (the same ids, so the same keys downstream). Binance pages forward through
//! `aggTrades`: a window of at most an hour by time, then by id once a window holds more
//! than a page. OKX pages backward through `history-trades`: the first page by time, the
//! rest by trade id, so trades sharing a millisecond are never split between two pages.

use super::binance::{self, TradesFrom};
use super::okx::{self, OlderThan};
use super::{HistoryClient, HistoryError, HistoryVenue};
use tickwatch_model::RawTrade;
use tickwatch_runtime::produce::now_us;

/// Binance's longest window between `startTime` and `endTime` (less than an hour).
const BINANCE_WINDOW_MS: i64 = 3_600_000;

impl HistoryClient {
    /// Every trade of `symbol` with a time in `[from_ms, to_ms)` (up to now), oldest first,
    /// each once. Bybit keeps no trade history on REST: [`HistoryError::NoTradeHistory`].
    pub async fn trades(&self, symbol: &str, from_ms: i64, to_ms: i64) -> Result<Vec<RawTrade>, HistoryError> {
        let to_ms = to_ms.min(now_us() / 1000 + 1);
        let mut trades = match self.venue {
            HistoryVenue::Binance { usdm } => self.binance_trades(usdm, symbol, from_ms, to_ms).await?,
            HistoryVenue::Okx => self.okx_trades(symbol, from_ms, to_ms).await?,
            HistoryVenue::Bybit => return Err(HistoryError::NoTradeHistory("bybit")),
        };
        trades.retain(|t| (from_ms * 1000..to_ms * 1000).contains(&t.event_time_us));
        trades.sort_by_key(|t| (t.event_time_us, t.sequence));
        trades.dedup_by(|a, b| a.trade_id == b.trade_id);
        Ok(trades)
    }

    async fn binance_trades(
        &self,
        usdm: bool,
        symbol: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<RawTrade>, HistoryError> {
        let mut out = Vec::new();
        let mut next = TradesFrom::Window { from_ms, to_ms: (from_ms + BINANCE_WINDOW_MS).min(to_ms) };
        loop {
            let window_end = match next {
                TradesFrom::Window { from_ms, to_ms: end } if from_ms >= end => return Ok(out),
                TradesFrom::Window { to_ms: end, .. } => Some(end),
                TradesFrom::Id(_) => None,
            };
            let request = binance::trades_request(usdm, symbol, next);
            let page = self.fetch(&request, |body| binance::parse_trades(body, usdm, symbol, now_us())).await?;
            let full = page.len() >= binance::TRADE_PAGE;
            let last = page.last().map(|t| (t.sequence.unwrap_or_default(), t.event_time_us / 1000));
            out.extend(page);
            next = match (last, window_end) {
                // Past the range, or (by id) no newer trade yet.
                (Some((_, t)), _) if t >= to_ms => return Ok(out),
                (None, None) => return Ok(out),
                (Some((id, _)), _) if full => TradesFrom::Id(id + 1),
                (_, None) => return Ok(out),
                // The window is read through: the next one.
                (_, Some(end)) => TradesFrom::Window { from_ms: end, to_ms: (end + BINANCE_WINDOW_MS).min(to_ms) },
            };
        }
    }

    async fn okx_trades(&self, inst_id: &str, from_ms: i64, to_ms: i64) -> Result<Vec<RawTrade>, HistoryError> {
        let mut out = Vec::new();
        let mut older_than = OlderThan::Time(to_ms);
        loop {
            let request = okx::trades_request(inst_id, older_than);
            let page = self.fetch(&request, |body| okx::parse_trades(body, now_us() / 1000)).await?;
            let full = page.len() >= okx::TRADE_PAGE;
            let oldest = page.iter().min_by_key(|t| (t.event_time_us, t.sequence)).cloned();
            out.extend(page);
            match oldest {
                Some(t) if full && t.event_time_us >= from_ms * 1000 => {
                    let id = t.trade_id.parse().map_err(|_| HistoryError::Parse {
                        url: request.path.into(),
                        why: format!("trade id `{}` is not a number to page from", t.trade_id),
                        body: String::new(),
                    })?;
                    older_than = OlderThan::TradeId(id);
                }
                _ => return Ok(out),
            }
        }
    }
}
