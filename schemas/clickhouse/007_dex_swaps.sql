-- dex_swaps as the ClickHouse writer writes it (record DexSwap, topic dex.swaps), and the two
-- layers read from it. No stage wrote the table of 001 before this migration, so it is
-- replaced rather than altered: its key lacked the pool and the transaction, its partitions
-- were months, and it had no TTL.
--
-- Every version of a swap log is inserted (PENDING when first seen, CONFIRMED once final,
-- RETRACTED when a reorg orphans its block; a log first seen deep comes once as CONFIRMED;
-- the ingestor's versions only grow); ReplacingMergeTree(version) keeps the highest per
-- natural key (chain_id, pool, block_hash, tx_hash, log_index). block_number follows from
-- block_hash and joins the key only to order a pool's rows by chain position. A swap the new
-- chain includes again after a reorg has another block_hash: another row.
-- On-chain integers are exact: amounts are signed 256-bit, pool state unsigned 256-bit.

DROP TABLE IF EXISTS dex_swaps;

CREATE TABLE IF NOT EXISTS dex_swaps
(
    chain            LowCardinality(String),
    chain_id         Int64,
    protocol         LowCardinality(String),
    pool             LowCardinality(String),
    instrument       LowCardinality(String),
    block_number     Int64,
    block_hash       String,
    tx_hash          String,
    log_index        Int64,
    sender           String,
    recipient        String,
    amount0_raw      Int256,
    amount1_raw      Int256,
    decimals0        Int32,
    decimals1        Int32,
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
PARTITION BY toDate(block_time)
ORDER BY (chain_id, pool, block_number, block_hash, tx_hash, log_index)
TTL toDateTime(block_time) + INTERVAL 7 DAY;

-- The final layer (what the API reads by default): each swap at its latest version, confirmed
-- ones only. FINAL collapses the versions before WHERE looks at the status, so a swap whose
-- latest version is RETRACTED (or still PENDING) is left out even before a merge.
CREATE VIEW IF NOT EXISTS dex_swaps_final AS
SELECT * FROM dex_swaps FINAL WHERE status = 'CONFIRMED';

-- The mixed layer: each swap at its latest version, pending or confirmed; retracted ones left
-- out the same way.
CREATE VIEW IF NOT EXISTS dex_swaps_mixed AS
SELECT * FROM dex_swaps FINAL WHERE status != 'RETRACTED';
