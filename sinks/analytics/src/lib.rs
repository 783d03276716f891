//! The analytics worker (`tickwatch analytics run`): derived series for the alert rules and
//! the API. Spreads and divergence (`prices`), PriceSmooth (`smooth`), EMA crossovers (`ema`)
//! and data-quality figures (`quality`) are pure state machines; `run` wires them to the
//! broker and to Redis.

pub mod config;
pub mod ema;
pub mod prices;
pub mod quality;
pub mod run;
pub mod smooth;
