//! The pipeline as operations see it, every part real: a fake Binance → `ingest` → the trades
//! transform in the transform host → the ClickHouse writer and the API's follower.
//! - Traces: every stage exports OTLP/HTTP to Rotel (an OpenTelemetry collector from PyPI),
//!   which puts the spans it received on a topic of the real broker. One trace per trade: the
//!   ingestor's root span, the host's under it, and the writer's and the API's under the
//!   host's; the writer's span ends once the row is in ClickHouse.
//! - The SLO report from the metrics: the stack's Prometheus scrapes the ingestor (which the
//!   fake venue keeps disconnecting) and the writer; `tickwatch slo --prometheus` reads the
//!   figures back per venue.

#[path = "../common/mod.rs"]
mod common;
mod pipeline;
mod slo;
mod traces;
