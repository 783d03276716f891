//! Binance stream names and the SUBSCRIBE request.

use crate::session::ConnectorConfig;

/// The streams of `cfg`'s channels for every instrument: `<symbol>@aggTrade`,
/// `<symbol>@depth@100ms`, and on USD-M `<symbol>@markPrice@1s` (mark, index and funding).
pub fn streams(cfg: &ConnectorConfig) -> Vec<String> {
    let usdm = cfg.venue == "binance-usdm";
    let mut out = Vec::new();
    for (symbol, _) in &cfg.instruments {
        let s = symbol.to_lowercase();
        let has = |c: &str| cfg.channels.iter().any(|x| x == c);
        if has("trades") {
            out.push(format!("{s}@aggTrade"));
        }
        if has("depth") {
            out.push(format!("{s}@depth@100ms"));
        }
        if usdm && (has("mark_price") || has("index_price") || has("funding")) {
            out.push(format!("{s}@markPrice@1s"));
        }
    }
    out
}

/// `{"method":"SUBSCRIBE","params":[...],"id":N}`.
pub fn subscribe(streams: &[String], id: u64) -> String {
    serde_json::json!({"method": "SUBSCRIBE", "params": streams, "id": id}).to_string()
}

/// The REST path of a depth snapshot.
pub fn depth_path(venue: &str, symbol: &str, limit: u32) -> String {
    let base = if venue == "binance-usdm" { "/fapi/v1/depth" } else { "/api/v3/depth" };
    format!("{base}?symbol={symbol}&limit={limit}")
}
