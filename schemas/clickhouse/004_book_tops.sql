-- book_tops as the order-book window worker writes it (record BookTop, topics
-- book.<interval>): the book at the end of each window, with nullable best levels (a side
-- can be empty), the updates applied in the window and the window's end. No stage wrote the
-- table of 001 before this migration, so it is replaced rather than altered.

DROP TABLE IF EXISTS book_tops;

CREATE TABLE IF NOT EXISTS book_tops
(
    venue           LowCardinality(String),
    instrument      LowCardinality(String),
    interval        LowCardinality(String),
    window_start    DateTime64(6, 'UTC'),
    window_end      DateTime64(6, 'UTC'),
    last_update_id  Int64,
    updates         Int64,
    bid_price       Nullable(Decimal(38, 18)),
    bid_size        Nullable(Decimal(38, 18)),
    ask_price       Nullable(Decimal(38, 18)),
    ask_size        Nullable(Decimal(38, 18)),
    depth_levels    Int32,
    bid_depth       Decimal(38, 18),
    ask_depth       Decimal(38, 18),
    imbalance       Nullable(Float64),
    version         Int64,
    emitted_at      DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toDate(window_start)
ORDER BY (venue, instrument, interval, window_start)
TTL toDateTime(window_start) + INTERVAL 7 DAY;
