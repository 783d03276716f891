-- Derived series of `tickwatch analytics run`: the signals the alert rules watch (spreads,
-- divergence, EMA crossovers, data-quality figures) and PriceSmooth.

-- Labels a signal does not have (venue_b of a divergence, channel of a spread...) are ''.
CREATE TABLE IF NOT EXISTS signals
(
    kind         LowCardinality(String),
    venue        LowCardinality(String),
    venue_b      LowCardinality(String),
    instrument   LowCardinality(String),
    channel      LowCardinality(String),
    interval     LowCardinality(String),
    value        Float64,
    unit         LowCardinality(String),
    at           DateTime64(6, 'UTC'),
    emitted_at   DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(emitted_at)
PARTITION BY toYYYYMMDD(at)
ORDER BY (kind, instrument, venue, venue_b, channel, interval, at)
TTL toDateTime(at) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS price_smooth
(
    instrument   LowCardinality(String),
    tick         DateTime64(6, 'UTC'),
    price        Decimal(38, 18),
    target       Decimal(38, 18),
    state        Enum8('STEADY' = 1, 'RAMPING' = 2),
    ramp_end     Nullable(DateTime64(6, 'UTC')),
    sources      Int32,
    version      Int64,
    emitted_at   DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(tick)
ORDER BY (instrument, tick);
