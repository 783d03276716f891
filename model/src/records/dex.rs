use crate::avro::avro_record;
use crate::codec::{avro_enum, avro_fields};
use crate::decimal::Decimal;
use crate::time::UnixMicros;
use serde::{Deserialize, Serialize};

/// topic0 of `Swap(address,uint256,uint256,uint256,uint256,address)`: Uniswap V2 and
/// PancakeSwap V2.
pub const V2_SWAP: &str = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822";
/// topic0 of `Sync(uint112,uint112)`: a V2 pair's reserves after the operation, emitted just
/// before its Swap.
pub const V2_SYNC: &str = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1";
/// topic0 of `Swap(address,address,int256,int256,uint160,uint128,int24)`: Uniswap V3.
pub const V3_SWAP: &str = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67";
/// topic0 of `Swap(address,address,int256,int256,uint160,uint128,int24,uint128,uint128)`:
/// PancakeSwap V3 (two protocol-fee words more than Uniswap V3's, hence another topic0).
pub const PANCAKE_V3_SWAP: &str = "0x19b47279256b2a23a1665c810c8d55a1758940ee09377d4f8d26497a3577dc83";

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
