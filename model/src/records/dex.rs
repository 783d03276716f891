use crate::avro::avro_record;
use crate::codec::{avro_enum, avro_fields};
use crate::decimal::Decimal;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

/// Where a swap stands on its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SwapStatus {
    /// Seen in a block with fewer confirmations than the chain's setting.
    Pending,
    /// Deep enough to be final.
    Confirmed,
    /// Its block left the canonical chain.
    Retracted,
}
avro_enum!(SwapStatus, Pending, Confirmed, Retracted);

/// One EVM log of a watched pool (topic `raw.dex`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawDexLog {
    pub chain: String,
    pub chain_id: i64,
    pub protocol: String,
    pub address: String,
    pub topics: Vec<String>,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    pub block_number: i64,
    pub block_hash: String,
    pub parent_hash: String,
    pub tx_hash: String,
    pub log_index: i64,
    pub removed: bool,
    pub block_time_us: UnixMicros,
    pub receive_time_us: UnixMicros,
    /// Where the log stands on its chain; the ingestor republishes it when this changes.
    pub status: SwapStatus,
    /// Grows with each status change of this log.
    pub version: i64,
}
avro_fields!(RawDexLog { chain, chain_id, protocol, address, topics [array], data, block_number, block_hash, parent_hash, tx_hash, log_index, removed, block_time_us, receive_time_us, status, version });
avro_record!(RawDexLog, "RawDexLog", "raw_dex_log.avsc");

/// A decoded swap (topic `dex.swaps`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DexSwap {
    pub chain: String,
    pub chain_id: i64,
    pub protocol: String,
    pub pool: String,
    pub instrument: String,
    pub block_number: i64,
    pub block_hash: String,
    pub tx_hash: String,
    pub log_index: i64,
    pub sender: String,
    pub recipient: String,
    pub amount0_raw: String,
    pub amount1_raw: String,
    pub decimals0: i32,
    pub decimals1: i32,
    pub sqrt_price_x96: Option<String>,
    pub liquidity: Option<String>,
    pub tick: Option<i32>,
    pub reserve0_raw: Option<String>,
    pub reserve1_raw: Option<String>,
    pub price: Decimal,
    pub base_size: Decimal,
    pub status: SwapStatus,
    pub version: i64,
    pub block_time_us: UnixMicros,
    pub receive_time_us: UnixMicros,
    pub source_lag_ms: i64,
}
avro_fields!(DexSwap {
    chain,
    chain_id,
    protocol,
    pool,
    instrument,
    block_number,
    block_hash,
    tx_hash,
    log_index,
    sender,
    recipient,
    amount0_raw,
    amount1_raw,
    decimals0,
    decimals1,
    sqrt_price_x96,
    liquidity,
    tick,
    reserve0_raw,
    reserve1_raw,
    price,
    base_size,
    status,
    version,
    block_time_us,
    receive_time_us,
    source_lag_ms
});
avro_record!(DexSwap, "DexSwap", "dex_swap.avsc");
