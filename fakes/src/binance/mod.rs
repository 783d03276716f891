//! A fake Binance (spot or USD-M): the combined-stream WebSocket (`/stream`, SUBSCRIBE with
//! acks, server pings, `serverShutdown` before a lifetime close), and REST `depth` and
//! `exchangeInfo`, over one recording folder of `../shared/fixtures` (`binance_spot` or
//! `binance_usdm`).

mod market;
mod rest;

pub use market::Market;
pub use rest::serve as serve_rest;
