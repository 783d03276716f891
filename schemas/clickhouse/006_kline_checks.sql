-- What `tickwatch reconcile` found for each 1m bar, checked against the venue's own k-line:
-- the data-quality events of reconciliation. One row per (bar, outcome), so a bar corrected
-- once keeps its CORRECTED row (with the differences) after later runs find it matching.
CREATE TABLE IF NOT EXISTS kline_checks
(
    venue        LowCardinality(String),
    instrument   LowCardinality(String),
    open_time    DateTime64(3, 'UTC'),
    outcome      Enum8('MATCH' = 0, 'CORRECTED' = 1, 'BACKFILLED' = 2, 'UNCONFIRMED' = 3),
    -- "field ours→venue; ..." for a corrected bar, empty otherwise.
    differences  String,
    checked_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(checked_at)
ORDER BY (venue, instrument, open_time, outcome);
