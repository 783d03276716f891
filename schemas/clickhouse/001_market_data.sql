-- tickwatch hot tables: market data.
-- Run by `tickwatch migrate` (in the configured database), or by hand:
--   clickhouse-client --database tickwatch --multiquery < 001_market_data.sql
-- Conventions: prices and sizes are Decimal(38, 18) (exact, as the venue sent them); times are
-- DateTime64(6, 'UTC'); every table is a ReplacingMergeTree on the record's natural key, so
-- at-least-once delivery leaves no duplicate after FINAL (or a merge). Raw tables keep 7 days hot.

CREATE TABLE IF NOT EXISTS trades
(
    venue           LowCardinality(String),
    instrument      LowCardinality(String),
    base            LowCardinality(String),
    quote           LowCardinality(String),
    kind            Enum8('SPOT' = 1, 'PERP' = 2, 'FUTURE' = 3),
    expiry          Nullable(DateTime64(6, 'UTC')),
    venue_symbol    LowCardinality(String),
    trade_id        String,
    price           Decimal(38, 18),
    size            Decimal(38, 18),
    taker_side      Enum8('UNKNOWN' = 0, 'BUY' = 1, 'SELL' = 2),
    event_time      DateTime64(6, 'UTC'),
    receive_time    DateTime64(6, 'UTC'),
    source_lag_ms   Int64,
    sequence        Nullable(Int64),
    inserted_at     DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toDate(event_time)
ORDER BY (venue, instrument, event_time, trade_id)
TTL toDateTime(event_time) + INTERVAL 7 DAY;

CREATE TABLE IF NOT EXISTS book_tops
(
    venue           LowCardinality(String),
    instrument      LowCardinality(String),
    interval        LowCardinality(String),
    window_start    DateTime64(6, 'UTC'),
    last_update_id  Int64,
    bid_price       Decimal(38, 18),
    bid_size        Decimal(38, 18),
    ask_price       Decimal(38, 18),
    ask_size        Decimal(38, 18),
    depth_levels    UInt16,
    bid_depth       Decimal(38, 18),
    ask_depth       Decimal(38, 18),
    imbalance       Float64,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toDate(window_start)
ORDER BY (venue, instrument, interval, window_start)
TTL toDateTime(window_start) + INTERVAL 7 DAY;

CREATE TABLE IF NOT EXISTS reference_prices
(
    venue                LowCardinality(String),
    instrument           LowCardinality(String),
    venue_symbol         LowCardinality(String),
    mark_price           Nullable(Decimal(38, 18)),
    index_price          Nullable(Decimal(38, 18)),
    funding_rate         Nullable(Decimal(38, 18)),
    next_funding_time    Nullable(DateTime64(6, 'UTC')),
    event_time           DateTime64(6, 'UTC'),
    receive_time         DateTime64(6, 'UTC'),
    source_lag_ms        Int64,
    inserted_at          DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toDate(event_time)
ORDER BY (venue, instrument, event_time)
TTL toDateTime(event_time) + INTERVAL 7 DAY;

CREATE TABLE IF NOT EXISTS klines
(
    venue                   LowCardinality(String),
    instrument              LowCardinality(String),
    interval                LowCardinality(String),
    open_time               DateTime64(6, 'UTC'),
    close_time              DateTime64(6, 'UTC'),
    open                    Decimal(38, 18),
    high                    Decimal(38, 18),
    low                     Decimal(38, 18),
    close                   Decimal(38, 18),
    volume                  Decimal(38, 18),
    quote_volume            Decimal(38, 18),
    vwap                    Decimal(38, 18),
    trade_count             Int64,
    taker_buy_volume        Decimal(38, 18),
    taker_buy_quote_volume  Decimal(38, 18),
    first_trade_id          String,
    last_trade_id           String,
    version                 Int64,
    verification            Enum8('UNVERIFIED' = 0, 'VERIFIED' = 1, 'SUSPECT' = 2),
    emitted_at              DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(open_time)
ORDER BY (venue, instrument, interval, open_time);

CREATE TABLE IF NOT EXISTS dex_swaps
(
    chain            LowCardinality(String),
    chain_id         Int64,
    protocol         LowCardinality(String),
    pool             String,
    instrument       LowCardinality(String),
    block_number     Int64,
    block_hash       String,
    tx_hash          String,
    log_index        Int64,
    sender           String,
    recipient        String,
    amount0_raw      Int256,
    amount1_raw      Int256,
    decimals0        UInt8,
    decimals1        UInt8,
    sqrt_price_x96   Nullable(UInt256),
    liquidity        Nullable(UInt256),
    tick             Nullable(Int32),
    reserve0_raw     Nullable(UInt256),
    reserve1_raw     Nullable(UInt256),
    price            Decimal(38, 18),
    base_size        Decimal(38, 18),
    status           Enum8('PENDING' = 0, 'CONFIRMED' = 1, 'RETRACTED' = 2),
    version          Int64,
    block_time       DateTime64(6, 'UTC'),
    receive_time     DateTime64(6, 'UTC'),
    source_lag_ms    Int64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(block_time)
ORDER BY (chain_id, block_hash, log_index);
