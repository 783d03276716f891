//! DEX swaps from ClickHouse: the final layer (confirmed swaps, `dex_swaps_final`) by default,
//! or the mixed layer (pending and confirmed, `dex_swaps_mixed`) on request; each swap once,
//! at its latest version, ascending by block time.

use super::{Answer, AppState, Given, History};
use crate::error::ApiError;
use crate::limit::Caller;
use crate::params::Params;
use axum::Extension;
use tickwatch_model::symbols::is_evm_address;

const HOUR_MS: i64 = 3_600_000;

/// The columns of a swap, read from `$view`: on-chain integers and decimals as exact strings.
macro_rules! swaps_from {
    ($view:literal) => {
        concat!(
            "SELECT chain, chain_id, protocol, pool, instrument, block_number, block_hash, tx_hash, log_index, ",
            "sender, recipient, toString(amount0_raw) AS amount0_raw, toString(amount1_raw) AS amount1_raw, ",
            "decimals0, decimals1, toString(sqrt_price_x96) AS sqrt_price_x96, toString(liquidity) AS liquidity, ",
            "tick, toString(reserve0_raw) AS reserve0_raw, toString(reserve1_raw) AS reserve1_raw, ",
            "toString(price) AS price, toString(base_size) AS base_size, toString(status) AS status, version, ",
            "toUnixTimestamp64Milli(block_time) AS block_time_ms, ",
            "toUnixTimestamp64Milli(receive_time) AS receive_time_ms, source_lag_ms FROM ",
            $view
        )
    };
}

const FINAL: &str = swaps_from!("dex_swaps_final");
const MIXED: &str = swaps_from!("dex_swaps_mixed");

/// Chain order within a block time; the block hash tells apart the forks the mixed layer can
/// show side by side until one is retracted.
const KEYS: &[(&str, &str)] = &[
    ("toUnixTimestamp64Micro(block_time)", "Int64"),
    ("chain_id", "Int64"),
    ("block_number", "Int64"),
    ("log_index", "Int64"),
    ("block_hash", "String"),
];

pub async fn swaps(state: AppState, Extension(caller): Extension<Caller>, q: Given) -> Answer {
    let app = &state.0;
    let mut p = Params::new(q.0);
    let pool = match p.opt("pool") {
        Some(a) if is_evm_address(&a) => Some(a.to_ascii_lowercase()),
        Some(a) => return Err(ApiError::bad("pool", format!("`pool` must be 0x and 40 hex digits (got `{a}`)"))),
        None => None,
    };
    // Not checked against symbols.yaml: the DEX transform also takes pools from TW_SYMBOLS.
    let instrument = p.opt("instrument");
    let layer = p.choice("layer", &["final", "mixed"], "final")?;
    let range = app.range(&mut p, HOUR_MS)?;
    let limit = app.limit(&mut p)?;
    let cursor = p.opt("cursor");
    p.finish()?;
    let mut q = History::new(if layer == "mixed" { MIXED } else { FINAL }, KEYS)
        .equal("pool", &pool)
        .equal("instrument", &instrument)
        .time_range("block_time", range);
    if !caller.venues.is_empty() {
        // A key limited to some venues reads the swaps of those protocols (a swap's venue).
        q = q.when("has({venues:Array(String)}, protocol)", &[("venues", array_literal(&caller.venues))]);
    }
    app.history(q, limit, cursor).await
}

/// A list of strings as a ClickHouse `Array(String)` parameter value.
fn array_literal(items: &[String]) -> String {
    let quoted: Vec<String> =
        items.iter().map(|v| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))).collect();
    format!("[{}]", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layers_read_the_same_columns_from_their_view() {
        assert_eq!(FINAL.replace("dex_swaps_final", "dex_swaps_mixed"), MIXED);
        // `History` splits at the one ` FROM `.
        assert_eq!(FINAL.matches(" FROM ").count(), 1);
        assert_eq!(array_literal(&["uniswap_v3".into(), "o'k".into()]), "['uniswap_v3','o\\'k']");
    }
}
