-- One venue message can carry mark, index and funding together (Binance markPrice, Bybit
-- tickers) or one of them (OKX mark-price, index-tickers, funding-rate), and two of those can
-- share an event time. `feeds` names the fields a row carries ('mark index funding', 'mark',
-- ...; the writer fills it) and joins the table's key, so that such rows are kept side by
-- side instead of replacing each other. (A sorting-key column added later cannot have a
-- default expression, hence no MATERIALIZED.)

ALTER TABLE reference_prices
    ADD COLUMN IF NOT EXISTS feeds LowCardinality(String),
    MODIFY ORDER BY (venue, instrument, event_time, feeds);
