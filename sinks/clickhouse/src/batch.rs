//! What waits for the next insert: per table, the decoded records (kept until ClickHouse
//! acknowledges them, so that a failed insert is sent again whole).

use crate::config::TableKind;
use crate::rows::HotTable;
use clickhouse::Client;
use std::future::Future;
use std::pin::Pin;
use tickwatch_model::{
    Alert, BookTop, DexSwap, Kline, QualityMinute, QuarantineRecord, ReferencePrice, Signal, SmoothPrice, Trade,
};
use tickwatch_runtime::decoder::RecordDecoder;
use tickwatch_runtime::metrics::{stage_metrics, Histogram, LATENCY_BOUNDS_MS};
use tickwatch_runtime::registry_client::RegistryClient;

type InsertFuture<'a> = Pin<Box<dyn Future<Output = Result<(), clickhouse::error::Error>> + Send + 'a>>;

/// One table's waiting records, whatever their type.
pub trait TableBatch: Send {
    fn table(&self) -> &'static str;
    /// Decode a framed record and keep it; `Err` names why it is not a record of this table.
    fn push(
        &mut self,
        payload: &[u8],
        registry: &RegistryClient,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), String>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One `INSERT` of every waiting record (RowBinary, checked against the table's columns).
    fn insert<'a>(&'a self, client: &'a Client) -> InsertFuture<'a>;
    /// Count an acknowledged insert of every waiting record in the stage's metrics.
    fn acknowledged(&self, now_us: i64);
    fn clear(&mut self);
}

/// The records of one [`HotTable`].
pub struct Pending<H: HotTable> {
    decoder: RecordDecoder<H>,
    records: Vec<H>,
}

impl<H: HotTable> Default for Pending<H> {
    fn default() -> Self {
        Pending { decoder: RecordDecoder::default(), records: Vec::new() }
    }
}

impl<H: HotTable> Pending<H> {
    /// Keep an already decoded record (quarantine rows the sink makes itself).
    pub fn keep(&mut self, record: H) {
        self.records.push(record);
    }
}

/// Insert `records` into `table` in one statement.
pub async fn insert_records<H: HotTable>(client: &Client, records: &[H]) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<H::Row>(H::TABLE).await?;
    for r in records {
        // The row is serialized at once; only the (row-free) send is awaited.
        let sent = insert.write(&r.row());
        sent.await?;
    }
    insert.end().await
}

impl<H: HotTable> TableBatch for Pending<H> {
    fn table(&self) -> &'static str {
        H::TABLE
    }

    fn push(
        &mut self,
        payload: &[u8],
        registry: &RegistryClient,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), String> {
        let record = self.decoder.decode(payload, registry, runtime)?;
        record.check()?;
        self.records.push(record);
        Ok(())
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn insert<'a>(&'a self, client: &'a Client) -> InsertFuture<'a> {
        Box::pin(insert_records(client, &self.records))
    }

    fn acknowledged(&self, now_us: i64) {
        let metrics = stage_metrics();
        // Per venue; a batch holds few venues, so a short list beats a map.
        let mut latency: Vec<(&str, Histogram)> = Vec::new();
        for r in &self.records {
            if let Some((venue, received)) = r.received() {
                let slot = match latency.iter().position(|(v, _)| *v == venue) {
                    Some(i) => i,
                    None => {
                        latency.push((venue, Histogram::new(LATENCY_BOUNDS_MS)));
                        latency.len() - 1
                    }
                };
                latency[slot].1.observe((now_us - received).max(0) as f64 / 1000.0);
            }
            if let Some((topic, reason)) = r.dropped() {
                metrics.dropped(topic, reason);
            }
        }
        metrics.inserted(H::TABLE, self.records.len(), &latency);
    }

    fn clear(&mut self) {
        // A batch of the backlog a restarted writer catches up on is far larger than the ones
        // after it: its room is given back rather than kept for the life of the process.
        let keep = self.records.len().max(1024);
        self.records.clear();
        if self.records.capacity() > 4 * keep {
            self.records.shrink_to(keep);
        }
    }
}

/// An empty batch for a table.
pub fn batch_for(kind: TableKind) -> Box<dyn TableBatch> {
    match kind {
        TableKind::Trades => Box::new(Pending::<Trade>::default()),
        TableKind::Reference => Box::new(Pending::<ReferencePrice>::default()),
        TableKind::Klines => Box::new(Pending::<Kline>::default()),
        TableKind::BookTops => Box::new(Pending::<BookTop>::default()),
        TableKind::Quarantine => Box::new(Pending::<QuarantineRecord>::default()),
        TableKind::Alerts => Box::new(Pending::<Alert>::default()),
        TableKind::Quality => Box::new(Pending::<QualityMinute>::default()),
        TableKind::Signals => Box::new(Pending::<Signal>::default()),
        TableKind::Smooth => Box::new(Pending::<SmoothPrice>::default()),
        TableKind::DexSwaps => Box::new(Pending::<DexSwap>::default()),
    }
}
