//! The `dex_swaps` dataset: confirmed swaps only. The cold history is what is final; a
//! PENDING version may still be retracted and a RETRACTED one names a swap that did not
//! happen on the canonical chain, so both are withheld (counted, offsets committed), and the
//! hot tables keep them (`dex_swaps_mixed`). Files go under `venue=<protocol>` (the venue of
//! a swap, as the DEX transform labels it) and `instrument=<pair>`, by the block's time.
//!
//! The columns are the hot table's, except the on-chain integers: base-10 strings, as the
//! record carries them (Parquet's DECIMAL stops at 76 digits; a 256-bit integer has up to 78).

use crate::columns::{dec, name_of, schema_of, ts, utf8, ColdRecord, Columns, Source};
use crate::read::{FromCold, ReadError, Row};
use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, DataType, SchemaRef};
use std::sync::OnceLock;
use tickwatch_model::{DexSwap, SwapStatus};

/// The names statuses are stored under (only CONFIRMED is written; all read back).
const STATUSES: [(SwapStatus, &str); 3] =
    [(SwapStatus::Pending, "PENDING"), (SwapStatus::Confirmed, "CONFIRMED"), (SwapStatus::Retracted, "RETRACTED")];

impl ColdRecord for DexSwap {
    fn venue(&self) -> &str {
        &self.protocol
    }
    fn instrument(&self) -> &str {
        &self.instrument
    }
    fn event_time_us(&self) -> i64 {
        self.block_time_us
    }
    fn withheld(&self) -> Option<&'static str> {
        match self.status {
            SwapStatus::Confirmed => None,
            SwapStatus::Pending => Some("pending"),
            SwapStatus::Retracted => Some("retracted"),
        }
    }
    /// An ingestor that restarts publishes the confirmed logs it finds again: the same row.
    fn row_key(&self) -> Option<String> {
        Some(format!("{}/{}/{}/{}/{}", self.chain_id, self.pool, self.block_hash, self.tx_hash, self.log_index))
    }
    fn arrow_schema() -> SchemaRef {
        static S: OnceLock<SchemaRef> = OnceLock::new();
        S.get_or_init(|| {
            let (int, int32) = (DataType::Int64, DataType::Int32);
            schema_of(&[
                ("chain", utf8(), false),
                ("chain_id", int.clone(), false),
                ("protocol", utf8(), false),
                ("pool", utf8(), false),
                ("instrument", utf8(), false),
                ("block_number", int.clone(), false),
                ("block_hash", utf8(), false),
                ("tx_hash", utf8(), false),
                ("log_index", int.clone(), false),
                ("sender", utf8(), false),
                ("recipient", utf8(), false),
                ("amount0_raw", utf8(), false),
                ("amount1_raw", utf8(), false),
                ("decimals0", int32.clone(), false),
                ("decimals1", int32.clone(), false),
                ("sqrt_price_x96", utf8(), true),
                ("liquidity", utf8(), true),
                ("tick", int32, true),
                ("reserve0_raw", utf8(), true),
                ("reserve1_raw", utf8(), true),
                ("price", dec(), false),
                ("base_size", dec(), false),
                ("status", utf8(), false),
                ("version", int.clone(), false),
                ("block_time", ts(), false),
                ("receive_time", ts(), false),
                ("source_lag_ms", int, false),
            ])
        })
        .clone()
    }
    fn batch(topic: &str, records: &[(Source, Self)]) -> Result<RecordBatch, ArrowError> {
        let r = || records.iter().map(|(_, s)| s);
        let mut c = Columns::new();
        c.text(r().map(|s| Some(s.chain.as_str())));
        c.int(r().map(|s| Some(s.chain_id)));
        c.text(r().map(|s| Some(s.protocol.as_str())));
        c.text(r().map(|s| Some(s.pool.as_str())));
        c.text(r().map(|s| Some(s.instrument.as_str())));
        c.int(r().map(|s| Some(s.block_number)));
        c.text(r().map(|s| Some(s.block_hash.as_str())));
        c.text(r().map(|s| Some(s.tx_hash.as_str())));
        c.int(r().map(|s| Some(s.log_index)));
        c.text(r().map(|s| Some(s.sender.as_str())));
        c.text(r().map(|s| Some(s.recipient.as_str())));
        c.text(r().map(|s| Some(s.amount0_raw.as_str())));
        c.text(r().map(|s| Some(s.amount1_raw.as_str())));
        c.int32(r().map(|s| Some(s.decimals0)));
        c.int32(r().map(|s| Some(s.decimals1)));
        c.text(r().map(|s| s.sqrt_price_x96.as_deref()));
        c.text(r().map(|s| s.liquidity.as_deref()));
        c.int32(r().map(|s| s.tick));
        c.text(r().map(|s| s.reserve0_raw.as_deref()));
        c.text(r().map(|s| s.reserve1_raw.as_deref()));
        c.decimal(r().map(|s| Some(s.price)))?;
        c.decimal(r().map(|s| Some(s.base_size)))?;
        c.text(r().map(|s| Some(name_of(&STATUSES, s.status))));
        c.int(r().map(|s| Some(s.version)));
        c.time(r().map(|s| Some(s.block_time_us)));
        c.time(r().map(|s| Some(s.receive_time_us)));
        c.int(r().map(|s| Some(s.source_lag_ms)));
        c.source(topic, records, Self::arrow_schema())
    }
}

impl FromCold for DexSwap {
    fn from_row(c: &Row<'_>, r: usize) -> Result<DexSwap, ReadError> {
        Ok(DexSwap {
            chain: c.text("chain", r)?,
            chain_id: c.int("chain_id", r)?,
            protocol: c.text("protocol", r)?,
            pool: c.text("pool", r)?,
            instrument: c.text("instrument", r)?,
            block_number: c.int("block_number", r)?,
            block_hash: c.text("block_hash", r)?,
            tx_hash: c.text("tx_hash", r)?,
            log_index: c.int("log_index", r)?,
            sender: c.text("sender", r)?,
            recipient: c.text("recipient", r)?,
            amount0_raw: c.text("amount0_raw", r)?,
            amount1_raw: c.text("amount1_raw", r)?,
            decimals0: c.int32("decimals0", r)?,
            decimals1: c.int32("decimals1", r)?,
            sqrt_price_x96: c.text_opt("sqrt_price_x96", r)?,
            liquidity: c.text_opt("liquidity", r)?,
            tick: c.int32_opt("tick", r)?,
            reserve0_raw: c.text_opt("reserve0_raw", r)?,
            reserve1_raw: c.text_opt("reserve1_raw", r)?,
            price: c.decimal("price", r)?,
            base_size: c.decimal("base_size", r)?,
            status: c.named("status", r, &STATUSES)?,
            version: c.int("version", r)?,
            block_time_us: c.time("block_time", r)?,
            receive_time_us: c.time("receive_time", r)?,
            source_lag_ms: c.int("source_lag_ms", r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::read_file;

    fn swap(status: SwapStatus, v3: bool) -> DexSwap {
        let big = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        DexSwap {
            chain: "ethereum".into(),
            chain_id: 1,
            protocol: if v3 { "uniswap_v3" } else { "uniswap_v2" }.into(),
            pool: "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640".into(),
            instrument: "WETH-USDC".into(),
            block_number: 21_000_000,
            block_hash: format!("0x{}", "ab".repeat(32)),
            tx_hash: format!("0x{}", "cd".repeat(32)),
            log_index: 7,
            sender: format!("0x{}", "11".repeat(20)),
            recipient: format!("0x{}", "22".repeat(20)),
            amount0_raw: "-340282366920938463463374607431768211457".into(),
            amount1_raw: "1000000000000000000".into(),
            decimals0: 6,
            decimals1: 18,
            sqrt_price_x96: v3.then(|| big.to_string()),
            liquidity: v3.then(|| "12345678901234567890".to_string()),
            tick: v3.then_some(-195_000),
            reserve0_raw: (!v3).then(|| "99".to_string()),
            reserve1_raw: (!v3).then(|| big.to_string()),
            price: "3456.123456789012345678".parse().unwrap(),
            base_size: "0.000000000000000001".parse().unwrap(),
            status,
            version: 2,
            block_time_us: 1_700_000_000_000_000,
            receive_time_us: 1_700_000_000_250_123,
            source_lag_ms: 250,
        }
    }

    #[test]
    fn confirmed_swaps_are_stored_and_read_back_exactly() {
        let records = [
            (Source { partition: 0, offset: 4 }, swap(SwapStatus::Confirmed, true)),
            (Source { partition: 0, offset: 9 }, swap(SwapStatus::Confirmed, false)),
        ];
        let file = crate::files::encode("p.dex.swaps", &records, 3).unwrap();
        let back = read_file::<DexSwap>(file).unwrap();
        let want: Vec<_> = records.iter().map(|(s, r)| ("p.dex.swaps".to_string(), *s, r.clone())).collect();
        assert_eq!(back, want);
        assert_eq!(swap(SwapStatus::Confirmed, true).withheld(), None);
        assert_eq!(swap(SwapStatus::Pending, true).withheld(), Some("pending"));
        assert_eq!(swap(SwapStatus::Retracted, true).withheld(), Some("retracted"));
        let moved = DexSwap { block_hash: "0xother".into(), ..swap(SwapStatus::Confirmed, true) };
        assert_ne!(moved.row_key(), swap(SwapStatus::Confirmed, true).row_key(), "a re-included swap is another row");
    }
}
