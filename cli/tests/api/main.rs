//! `tickwatch api serve` against the real stack: history from ClickHouse (paging, exact
//! decimals, corrections, factors, quality), hot values followed from the topics, books from
//! the real book worker through Redis, alerts and silences, errors, keys and rate limits,
//! and every route of the OpenAPI document.

mod history;
mod hot;
mod refusals;
mod routes;
mod support;
