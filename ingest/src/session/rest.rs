//! The REST side of a connection: the venue's instrument list (checked once at start) and
//! depth snapshots (to rebuild a book, or to check one).

use super::connection::{now_ms, Fetched, Purpose, Shared};
use super::{Backoff, Venue};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Every configured instrument must be listed by the venue; an unreachable endpoint is
/// logged and the connections start anyway.
pub(super) async fn check_listed<V: Venue>(shared: &Shared<V>) -> Result<(), String> {
    let c = &shared.cfg;
    let mut listed = Vec::new();
    for path in shared.venue.instruments_paths(c) {
        let url = format!("{}{path}", c.rest_url);
        let body = match async { shared.http.get(&url).send().await?.error_for_status()?.bytes().await }.await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(venue = %c.venue, url, error = %e, "instrument metadata unavailable; symbols not checked");
                return Ok(());
            }
        };
        listed.extend(shared.venue.listed_symbols(&body).map_err(|e| format!("{url}: {e}"))?);
    }
    let missing: Vec<&str> =
        c.instruments.iter().map(|(s, _)| s.as_str()).filter(|s| !listed.iter().any(|l| l == s)).collect();
    if missing.is_empty() {
        tracing::info!(venue = %c.venue, listed = listed.len(), "every instrument is listed by the venue");
        Ok(())
    } else {
        Err(format!(
            "venue {} does not list {} (REST instrument metadata at {}); fix the instrument or its symbol in symbols.yaml",
            c.venue,
            missing.join(", "),
            c.rest_url
        ))
    }
}

/// GET a REST depth snapshot; a rebuild retries until it comes (the book waits for it), a
/// check gives up after one failure.
pub(super) async fn fetch_snapshot<V: Venue>(
    shared: Arc<Shared<V>>,
    symbol: String,
    purpose: Purpose,
    tx: mpsc::Sender<Fetched>,
) {
    let cfg = &shared.cfg;
    let url = format!("{}{}", cfg.rest_url, shared.venue.snapshot_path(&symbol, cfg.snapshot_depth));
    let mut backoff = Backoff::new(cfg.initial_backoff, cfg.max_backoff, cfg.jitter);
    loop {
        let got = async { shared.http.get(&url).send().await?.error_for_status()?.bytes().await }.await;
        let error = match got.map(|body| shared.venue.rest_book(&body)) {
            Ok(Ok(snap)) => {
                let _ = tx.send((symbol, purpose, snap, now_ms())).await;
                return;
            }
            Ok(Err(e)) => e,
            Err(e) => e.to_string(),
        };
        tracing::warn!(venue = %cfg.venue, url, error, "depth snapshot failed");
        if purpose == Purpose::Check || tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
