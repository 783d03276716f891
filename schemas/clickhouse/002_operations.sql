-- tickwatch hot tables: what the pipeline refused, alerted on, and measured about itself.

CREATE TABLE IF NOT EXISTS quarantine
(
    source_topic      LowCardinality(String),
    source_partition  Int32,
    source_offset     Int64,
    original_key      Nullable(String),
    original_value    String,
    reason            LowCardinality(String),
    rule              LowCardinality(String),
    detail            String,
    venue             Nullable(String),
    instrument        Nullable(String),
    quarantined_at    DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(quarantined_at)
ORDER BY (source_topic, source_partition, source_offset, rule)
TTL toDateTime(quarantined_at) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS alerts
(
    fingerprint   String,
    rule          LowCardinality(String),
    severity      Enum8('P1' = 1, 'P2' = 2, 'P3' = 3),
    state         Enum8('FIRING' = 1, 'RESOLVED' = 2),
    venue         Nullable(String),
    instrument    Nullable(String),
    value         Nullable(Float64),
    threshold     Nullable(Float64),
    summary       String,
    labels        Map(String, String),
    started_at    DateTime64(6, 'UTC'),
    emitted_at    DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(emitted_at)
ORDER BY (fingerprint, started_at, state, emitted_at);

CREATE TABLE IF NOT EXISTS data_quality_minute
(
    venue              LowCardinality(String),
    instrument         LowCardinality(String),
    channel            LowCardinality(String),
    minute             DateTime64(6, 'UTC'),
    messages           Int64,
    gaps               Int64,
    lost_messages      Nullable(Int64),
    out_of_order       Int64,
    duplicates         Int64,
    reconnects         Int64,
    resyncs            Int64,
    quarantined        Int64,
    max_silence_ms     Int64,
    source_lag_p95_ms  Nullable(Float64),
    inserted_at        DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(minute)
ORDER BY (venue, instrument, channel, minute);
