//! The records crossing between the host's thread and the module's: a batch in, the
//! module's outputs back. Each side keeps all of a batch's bytes in one buffer. Records
//! written on one thread and freed on the other, one small block each, cost glibc's
//! allocator dearly: at 50 000 records a second, a profile of the host had about a tenth of
//! its samples in `malloc` on the VM's thread, sorting the blocks the other thread freed.

use crate::encoding::{Layout, Payload, PayloadView};
use std::ops::Range;
use std::sync::Arc;

/// One record going into the module, in the ABI layout (tests and tools build batches of
/// these; the runner writes straight into an [`InBatch`]).
#[derive(Debug, Clone)]
pub struct InRecord {
    /// Key, value and headers in the ABI layout ([`Payload::encode`]).
    pub bytes: Vec<u8>,
    pub timestamp_ms: i64,
    pub offset: i64,
}

impl InRecord {
    pub fn new(payload: &Payload, timestamp_ms: i64, offset: i64) -> InRecord {
        InRecord { bytes: payload.encode(), timestamp_ms, offset }
    }
}

/// Where one record of an [`InBatch`] lies, and its position.
#[derive(Debug, Clone, Copy)]
struct InEntry {
    end: usize,
    timestamp_ms: i64,
    offset: i64,
}

/// A batch going into the module: its records' bytes, one after another, in one buffer.
#[derive(Debug, Clone, Default)]
pub struct InBatch {
    bytes: Vec<u8>,
    entries: Vec<InEntry>,
}

/// One record of an [`InBatch`], borrowed.
#[derive(Debug, Clone, Copy)]
pub struct InRecordRef<'a> {
    pub bytes: &'a [u8],
    pub timestamp_ms: i64,
    pub offset: i64,
}

impl InBatch {
    /// Appends a record: `write` puts its bytes, in the ABI layout, at the end of the buffer.
    pub fn push_with(&mut self, timestamp_ms: i64, offset: i64, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.bytes);
        self.entries.push(InEntry { end: self.bytes.len(), timestamp_ms, offset });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<InRecordRef<'_>> {
        let e = self.entries.get(i)?;
        let start = if i == 0 { 0 } else { self.entries[i - 1].end };
        Some(InRecordRef { bytes: &self.bytes[start..e.end], timestamp_ms: e.timestamp_ms, offset: e.offset })
    }

    pub fn iter(&self) -> impl Iterator<Item = InRecordRef<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Offsets of the first and the last record.
    pub fn offsets(&self) -> Option<(i64, i64)> {
        Some((self.entries.first()?.offset, self.entries.last()?.offset))
    }
}

impl From<Vec<InRecord>> for InBatch {
    fn from(records: Vec<InRecord>) -> InBatch {
        let mut batch = InBatch::default();
        for r in records {
            batch.push_with(r.timestamp_ms, r.offset, |out| out.extend_from_slice(&r.bytes));
        }
        batch
    }
}

/// A record the module wrote, and to which of the outputs: the bytes as written, checked
/// when written ([`OutRecord::view`] borrows its parts for the producer). The bytes lie in
/// the buffer the whole batch's outputs share.
#[derive(Debug, Clone)]
pub struct OutRecord {
    pub output: usize,
    buffer: Arc<Vec<u8>>,
    range: Range<usize>,
    layout: Layout,
}

impl OutRecord {
    /// `None` if `bytes` is not a well-formed record.
    pub fn new(output: usize, bytes: Vec<u8>) -> Option<OutRecord> {
        let layout = Layout::of(&bytes)?;
        let range = 0..bytes.len();
        Some(OutRecord { output, buffer: Arc::new(bytes), range, layout })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buffer[self.range.clone()]
    }

    pub fn view(&self) -> PayloadView<'_> {
        self.layout.view(self.bytes())
    }

    /// The record as owned parts (tests, tools; the runner sends from [`OutRecord::view`]).
    pub fn payload(&self) -> Payload {
        self.view().to_payload()
    }
}

impl PartialEq for OutRecord {
    fn eq(&self, other: &OutRecord) -> bool {
        self.output == other.output && self.bytes() == other.bytes()
    }
}

impl Eq for OutRecord {}

/// The outputs of the batch the module works on, gathered on the VM's thread.
#[derive(Debug, Default)]
pub(crate) struct OutBuffer {
    bytes: Vec<u8>,
    entries: Vec<(usize, Range<usize>, Layout)>,
}

impl OutBuffer {
    /// Appends what the module wrote to `output`; false (and nothing kept) if it is not a
    /// well-formed record.
    pub fn push(&mut self, output: usize, record: &[u8]) -> bool {
        let Some(layout) = Layout::of(record) else { return false };
        let start = self.bytes.len();
        self.bytes.extend_from_slice(record);
        self.entries.push((output, start..self.bytes.len(), layout));
        true
    }

    /// The batch's outputs; the buffer starts the next batch empty, sized like this one.
    pub fn take(&mut self) -> Vec<OutRecord> {
        let next = Vec::with_capacity(self.bytes.len());
        let buffer = Arc::new(std::mem::replace(&mut self.bytes, next));
        self.entries
            .drain(..)
            .map(|(output, range, layout)| OutRecord { output, buffer: buffer.clone(), range, layout })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(key: &str, value: &str) -> Payload {
        Payload {
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.as_bytes().to_vec()),
            headers: vec![(b"h".to_vec(), Some(b"v".to_vec()))],
        }
    }

    #[test]
    fn an_in_batch_keeps_each_record_apart() {
        let batch = InBatch::from(vec![
            InRecord::new(&payload("a", "one"), 10, 5),
            InRecord::new(&Payload::default(), 11, 6),
            InRecord::new(&payload("bb", "two"), 12, 7),
        ]);
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.offsets(), Some((5, 7)));
        let parts: Vec<_> = batch.iter().map(|r| (Payload::decode(r.bytes), r.timestamp_ms, r.offset)).collect();
        assert_eq!(parts[0], (Some(payload("a", "one")), 10, 5));
        assert_eq!(parts[1], (Some(Payload::default()), 11, 6));
        assert_eq!(parts[2], (Some(payload("bb", "two")), 12, 7));
        assert!(batch.get(3).is_none());
        assert_eq!(InBatch::default().offsets(), None);
    }

    #[test]
    fn outputs_share_one_buffer_and_refuse_malformed_records() {
        let mut out = OutBuffer::default();
        assert!(out.push(0, &payload("k1", "v1").encode()));
        assert!(!out.push(1, &[0x05]), "a key announced but missing");
        assert!(out.push(1, &payload("k2", "v2").encode()));
        let records = out.take();
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].output, records[0].payload()), (0, payload("k1", "v1")));
        assert_eq!((records[1].output, records[1].payload()), (1, payload("k2", "v2")));
        assert!(Arc::ptr_eq(&records[0].buffer, &records[1].buffer));
        assert_eq!(records[1], OutRecord::new(1, payload("k2", "v2").encode()).unwrap());
        assert!(out.take().is_empty(), "the next batch starts empty");
    }
}
