//! Binance for the shared connection loop: combined-stream names, SUBSCRIBE, server pings
//! (no client heartbeat), books rebuilt from REST depth snapshots, exchangeInfo.

use super::book::{BinanceBook, Market};
use super::messages::{DepthSnapshot, DepthUpdate};
use super::records::{read_fast, read_general, snapshot_record, Fast, Source, SPOT, USDM};
use crate::book::BookSet;
use crate::frame::{Frame, RawRecord};
use crate::session::{book_symbols, ConnectorConfig, Read, Repair, RestBook, Stream, Venue, VenueSession};
use serde::Deserialize;
use std::time::Duration;

/// Binance spot or USD-M futures.
#[derive(Debug, Clone, Copy)]
pub struct Binance {
    source: Source,
    market: Market,
}

impl Binance {
    /// `binance` or `binance-usdm`.
    pub fn for_venue(venue: &str) -> Binance {
        if venue == "binance-usdm" {
            Binance { source: USDM, market: Market::UsdM }
        } else {
            Binance { source: SPOT, market: Market::Spot }
        }
    }

    fn usdm(&self) -> bool {
        self.market == Market::UsdM
    }
}

pub struct BinanceSession {
    source: Source,
    books: BookSet<BinanceBook>,
}

#[derive(Deserialize)]
struct ExchangeInfo {
    symbols: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    symbol: String,
}

impl Venue for Binance {
    type Session = BinanceSession;

    /// `<symbol>@aggTrade`, `<symbol>@depth@100ms`, and on USD-M `<symbol>@markPrice@1s`
    /// (mark, index and funding in one stream).
    fn streams(&self, cfg: &ConnectorConfig) -> Vec<Stream> {
        let has = |c: &str| cfg.channels.iter().any(|x| x == c);
        let mut out = Vec::new();
        for (symbol, _) in &cfg.instruments {
            let s = symbol.to_lowercase();
            let mut add = |arg: String, channel| out.push(Stream { symbol: symbol.clone(), channel, arg });
            if has("trades") {
                add(format!("{s}@aggTrade"), "trades");
            }
            if has("depth") {
                add(format!("{s}@depth@100ms"), "depth");
            }
            if self.usdm() && (has("mark_price") || has("index_price") || has("funding")) {
                add(format!("{s}@markPrice@1s"), "reference");
            }
        }
        out
    }

    fn args_per_message(&self) -> usize {
        100
    }

    /// Aggregate trade ids count the symbol's aggregate trades one by one.
    fn contiguous_trade_ids(&self) -> bool {
        true
    }

    fn subscribe(&self, streams: &[Stream], id: u64) -> String {
        let params: Vec<&str> = streams.iter().map(|s| s.arg.as_str()).collect();
        serde_json::json!({"method": "SUBSCRIBE", "params": params, "id": id}).to_string()
    }

    fn session(&self, _cfg: &ConnectorConfig, streams: &[Stream]) -> BinanceSession {
        let market = self.market;
        BinanceSession { source: self.source, books: BookSet::new(book_symbols(streams), || BinanceBook::new(market)) }
    }

    fn snapshot_path(&self, symbol: &str, depth: u32) -> String {
        let base = if self.usdm() { "/fapi/v1/depth" } else { "/api/v3/depth" };
        format!("{base}?symbol={symbol}&limit={depth}")
    }

    fn rest_book(&self, body: &[u8]) -> Result<RestBook, String> {
        let s: DepthSnapshot = serde_json::from_slice(body).map_err(|e| format!("not a depth snapshot: {e}"))?;
        Ok(RestBook { last_id: s.last_update_id, bids: s.bids, asks: s.asks })
    }

    fn instruments_paths(&self, _cfg: &ConnectorConfig) -> Vec<String> {
        vec![if self.usdm() { "/fapi/v1/exchangeInfo" } else { "/api/v3/exchangeInfo" }.into()]
    }

    fn listed_symbols(&self, body: &[u8]) -> Result<Vec<String>, String> {
        let info: ExchangeInfo = serde_json::from_slice(body).map_err(|e| format!("not an exchangeInfo: {e}"))?;
        Ok(info.symbols.into_iter().map(|s| s.symbol).collect())
    }
}

impl VenueSession for BinanceSession {
    type Book = BinanceBook;

    fn books(&self) -> &BookSet<BinanceBook> {
        &self.books
    }

    fn books_mut(&mut self) -> &mut BookSet<BinanceBook> {
        &mut self.books
    }

    fn heartbeat(&self) -> Option<(Duration, String)> {
        None
    }

    fn read(&mut self, text: &str, received_ms: i64) -> Read {
        match read_fast(self.source, text, received_ms) {
            Some(Fast::Depth(record, diff)) => {
                let symbol = record.symbol();
                let sync = self.books.get_mut(symbol).map(|book| (symbol.to_string(), book.on_diff(diff)));
                return Read { frame: Frame::Records(vec![record]), sync: sync.into_iter().collect(), closing: false };
            }
            Some(Fast::Trade(record)) => return Read::frame(Frame::Records(vec![record])),
            None => {}
        }
        let frame = read_general(self.source, text, received_ms);
        if text.contains("\"serverShutdown\"") && frame == Frame::Control {
            return Read::closing();
        }
        let mut sync = Vec::new();
        if let Frame::Records(records) = &frame {
            for r in records {
                if let RawRecord::Book(b) = r {
                    if let Some(book) = self.books.get_mut(&b.symbol) {
                        sync.push((b.symbol.clone(), book.on_update(DepthUpdate::from_raw(b))));
                    }
                }
            }
        }
        Read { frame, sync, closing: false }
    }

    fn repair(&self, _symbol: &str) -> Repair {
        Repair::RestSnapshot
    }

    fn on_rest_snapshot(&mut self, symbol: &str, snap: &RestBook, received_ms: i64) -> Read {
        let Some(book) = self.books.get_mut(symbol) else { return Read::frame(Frame::Control) };
        let snap = DepthSnapshot { last_update_id: snap.last_id, bids: snap.bids.clone(), asks: snap.asks.clone() };
        let frame = match snapshot_record(self.source, symbol, &snap, received_ms) {
            Ok(record) => Frame::Records(vec![RawRecord::Book(record)]),
            Err(garbage) => garbage,
        };
        let sync = book.on_snapshot(&snap).into_iter().map(|e| (symbol.to_string(), e)).collect();
        Read { frame, sync, closing: false }
    }
}
