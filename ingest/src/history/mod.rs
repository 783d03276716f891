//! Venue history over REST: 1-minute k-lines of Binance (spot and USD-M), OKX and Bybit,
//! and trades of Binance and OKX, paginated within each venue's rate limits. Backfill and
//! reconciliation read the venues' own bars through this; what leaves the folder is a
//! venue-neutral [`VenueBar`], or the [`RawTrade`](tickwatch_model::RawTrade) the live
//! ingestor would have published.

mod binance;
mod bybit;
mod okx;
pub mod pacing;
mod trades;

use pacing::{LimitAnswer, Pacer};
use std::time::Duration;
use tickwatch_model::{Decimal, InstrumentKind};

/// One minute.
pub const MINUTE_MS: i64 = 60_000;

/// A venue's own 1-minute bar, sizes in base units (contracts converted by the venue's
/// base-currency volume field where it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueBar {
    pub open_time_ms: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub quote_volume: Option<Decimal>,
    /// Binance only.
    pub trade_count: Option<i64>,
    pub taker_buy_volume: Option<Decimal>,
    pub taker_buy_quote_volume: Option<Decimal>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("{url}: unexpected answer ({why}): {body}")]
    Parse { url: String, why: String, body: String },
    #[error("{url}: still rate-limited after {tries} waits; try a lower --rate")]
    Limited { url: String, tries: u32 },
    #[error("no REST k-lines for venue `{0}`; built: binance, binance-usdm, okx, bybit")]
    UnknownVenue(String),
    #[error("{0}'s REST API keeps only its latest trades, no trade history; backfill its k-lines (--kind klines)")]
    NoTradeHistory(&'static str),
}

/// Which venue API a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryVenue {
    Binance { usdm: bool },
    Okx,
    Bybit,
}

impl HistoryVenue {
    pub fn from_name(venue: &str) -> Result<HistoryVenue, HistoryError> {
        Ok(match venue {
            "binance" => HistoryVenue::Binance { usdm: false },
            "binance-usdm" => HistoryVenue::Binance { usdm: true },
            "okx" => HistoryVenue::Okx,
            "bybit" => HistoryVenue::Bybit,
            other => return Err(HistoryError::UnknownVenue(other.into())),
        })
    }

    /// Requests per second that stay well inside the venue's documented limits (Binance
    /// 6,000 weight a minute at weight 2 a page; OKX history-candles 20 per 2 s; Bybit 600
    /// per 5 s per IP).
    pub fn default_rate(self) -> f64 {
        match self {
            HistoryVenue::Binance { .. } => 10.0,
            HistoryVenue::Okx => 8.0,
            HistoryVenue::Bybit => 10.0,
        }
    }

    /// Requests per second for trade pages: Binance USD-M's `aggTrades` weighs 20 of its
    /// 2,400 a minute; the others' trade pages are paced like their k-lines.
    pub fn default_trade_rate(self) -> f64 {
        match self {
            HistoryVenue::Binance { usdm: true } => 1.5,
            _ => self.default_rate(),
        }
    }

    /// Bars per page (the venue's maximum).
    pub fn page_size(self) -> i64 {
        match self {
            HistoryVenue::Okx => 100,
            _ => 1_000,
        }
    }
}

/// The question for one page: the venue's path and query for bars with open times in
/// `[from_ms, to_ms)`, at most a page of them.
pub(crate) struct PageRequest {
    pub path: &'static str,
    pub query: Vec<(&'static str, String)>,
}

/// A page as the venue answered it, in the order it sent (oldest first or newest first).
pub(crate) type Page = Vec<VenueBar>;

/// Reads one venue's 1-minute k-lines.
pub struct HistoryClient {
    http: reqwest::Client,
    rest_url: String,
    venue: HistoryVenue,
    pacer: Pacer,
}

impl HistoryClient {
    /// `rate`: requests per second (the venue's default when `None`).
    pub fn new(venue: HistoryVenue, rest_url: &str, rate: Option<f64>) -> HistoryClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent("tickwatch-history")
            .build()
            .expect("a plain HTTP client builds");
        HistoryClient {
            http,
            rest_url: rest_url.trim_end_matches('/').to_string(),
            venue,
            pacer: Pacer::new(rate.unwrap_or_else(|| venue.default_rate())),
        }
    }

    pub fn venue(&self) -> HistoryVenue {
        self.venue
    }

    /// Rate-limit answers met so far (each was waited out).
    pub fn limited(&self) -> u64 {
        self.pacer.limited()
    }

    /// Every closed 1-minute bar of `symbol` with an open time in `[from_ms, to_ms)`, oldest
    /// first, one page after another.
    pub async fn klines_1m(
        &self,
        symbol: &str,
        kind: InstrumentKind,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<VenueBar>, HistoryError> {
        let mut bars: Vec<VenueBar> = Vec::new();
        // Only closed minutes: the current one is still changing.
        let now = tickwatch_runtime::produce::now_us() / 1000;
        let (mut lo, mut hi) = (from_ms, to_ms.min(now - now % MINUTE_MS));
        while lo < hi {
            let request = match self.venue {
                HistoryVenue::Binance { usdm } => binance::request(usdm, symbol, lo, hi),
                HistoryVenue::Okx => okx::request(symbol, lo, hi),
                HistoryVenue::Bybit => bybit::request(kind, symbol, lo, hi),
            };
            let page = self
                .fetch(&request, |body| match self.venue {
                    HistoryVenue::Binance { .. } => binance::parse(body),
                    HistoryVenue::Okx => okx::parse(body, kind),
                    HistoryVenue::Bybit => bybit::parse(body),
                })
                .await?;
            let page: Page = page.into_iter().filter(|b| b.open_time_ms >= lo && b.open_time_ms < hi).collect();
            if page.is_empty() {
                break;
            }
            let (first, last) = (
                page.iter().map(|b| b.open_time_ms).min().expect("not empty"),
                page.iter().map(|b| b.open_time_ms).max().expect("not empty"),
            );
            // Binance pages forward from the start; OKX and Bybit page backward from the end.
            match self.venue {
                HistoryVenue::Binance { .. } => lo = last + MINUTE_MS,
                _ => hi = first,
            }
            bars.extend(page);
        }
        bars.sort_by_key(|b| b.open_time_ms);
        bars.dedup_by_key(|b| b.open_time_ms);
        Ok(bars)
    }

    /// One request, paced, its rate-limit answers waited out, its answer read by `parse`.
    async fn fetch<T>(
        &self,
        request: &PageRequest,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, HistoryError> {
        let url = format!("{}{}", self.rest_url, request.path);
        let mut waits = 0;
        loop {
            self.pacer.ready().await;
            let response = self
                .http
                .get(&url)
                .query(&request.query)
                .send()
                .await
                .map_err(|source| HistoryError::Http { url: url.clone(), source })?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.text().await.map_err(|source| HistoryError::Http { url: url.clone(), source })?;
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let answer = pacing::classify(self.venue, status, &header, &body);
            match answer {
                LimitAnswer::Go => {}
                LimitAnswer::Wait(wait) => {
                    waits += 1;
                    if waits > pacing::MAX_WAITS {
                        return Err(HistoryError::Limited { url, tries: waits });
                    }
                    self.pacer.hold(wait, self.venue, status).await;
                    continue;
                }
            }
            if !(200..300).contains(&status) {
                return Err(HistoryError::Status { url, status, body: body.chars().take(300).collect() });
            }
            return parse(&body).map_err(|why| HistoryError::Parse {
                url,
                why,
                body: body.chars().take(300).collect(),
            });
        }
    }
}

/// A decimal field of a venue's answer.
pub(crate) fn decimal(text: Option<&str>, what: &str) -> Result<Decimal, String> {
    let text = text.ok_or_else(|| format!("{what} missing"))?;
    text.parse().map_err(|e| format!("{what} `{text}`: {e}"))
}

/// What a venue row that does not read as a trade got wrong.
pub(crate) fn garbage_detail(frame: crate::frame::Frame) -> String {
    match frame {
        crate::frame::Frame::Garbage { detail, .. } => detail,
        other => format!("{other:?}"),
    }
}
