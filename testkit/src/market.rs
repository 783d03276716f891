//! Trades and reference prices for tests that script their own market.

use tickwatch_model::{Decimal, InstrumentKind, ReferencePrice, TakerSide, Trade};

/// An OKX spot trade of `instrument` (`BASE-QUOTE`, its own venue symbol), received
/// `lag_us` after `event_time_us`. Prices and sizes are decimal strings, kept exact.
pub fn okx_spot_trade(
    instrument: &str,
    trade_id: String,
    price: &str,
    size: &str,
    taker_side: TakerSide,
    event_time_us: i64,
    lag_us: i64,
) -> Trade {
    let (base, quote) = instrument.split_once('-').expect("instrument is BASE-QUOTE");
    let decimal = |text: &str| text.parse::<Decimal>().unwrap_or_else(|e| panic!("`{text}`: {e}"));
    Trade {
        venue: "okx".into(),
        instrument: instrument.into(),
        base: base.into(),
        quote: quote.into(),
        kind: InstrumentKind::Spot,
        expiry_us: None,
        venue_symbol: instrument.into(),
        trade_id,
        price: decimal(price),
        size: decimal(size),
        taker_side,
        event_time_us,
        receive_time_us: event_time_us + lag_us,
        source_lag_ms: lag_us / 1_000,
        sequence: None,
    }
}

/// OKX's BTC-USDT perpetual (`BTC-USDT-PERP`, venue symbol `BTC-USDT-SWAP`): its mark and
/// index price at `event_time_us`, received `lag_us` later, without funding (a test that
/// wants it sets `funding_rate` and `next_funding_time_us` on the result).
pub fn okx_btc_perp_prices(
    mark: Option<Decimal>,
    index: Option<Decimal>,
    event_time_us: i64,
    lag_us: i64,
) -> ReferencePrice {
    ReferencePrice {
        venue: "okx".into(),
        instrument: "BTC-USDT-PERP".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Perp,
        expiry_us: None,
        venue_symbol: "BTC-USDT-SWAP".into(),
        mark_price: mark,
        index_price: index,
        funding_rate: None,
        next_funding_time_us: None,
        event_time_us,
        receive_time_us: event_time_us + lag_us,
        source_lag_ms: lag_us / 1_000,
    }
}
