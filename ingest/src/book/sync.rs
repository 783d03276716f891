//! What a sync step reports: the book moved on, an old message was skipped, or the sequence
//! broke (and how much was lost) so that the book must be rebuilt.

/// How much a break lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// This many update ids (or messages, where ids count messages) never arrived.
    Exact(u64),
    /// Something was lost; the venue's ids do not say how much.
    Unknown,
}

impl Loss {
    pub fn as_str(self) -> &'static str {
        match self {
            Loss::Exact(_) => "exact",
            Loss::Unknown => "unknown",
        }
    }
}

/// One step of a venue's sync rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// A snapshot replaced the book.
    Snapshot { last_id: i64 },
    /// An update moved the book to `last_id`.
    Applied { last_id: i64 },
    /// An update older than the book, ignored (a repeat, or before the snapshot).
    Stale { last_id: i64 },
    /// Held until a snapshot arrives.
    Buffered,
    /// The sequence broke: the book is invalid until it is rebuilt from a fresh snapshot.
    Gap { expected: i64, got: i64, loss: Loss },
    /// The venue's checksum of its top levels disagrees with ours: rebuild too.
    ChecksumMismatch { venue: i64, ours: i64 },
    /// The venue's checksum agrees with ours.
    ChecksumOk,
    /// A message the rules cannot use (bad level, missing ids); the book is unchanged.
    Rejected { why: String },
}

impl SyncEvent {
    /// Does the book need a fresh snapshot after this?
    pub fn breaks_book(&self) -> bool {
        matches!(self, SyncEvent::Gap { .. } | SyncEvent::ChecksumMismatch { .. })
    }
}

/// Running totals of what the sync did, for metrics and the replay report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub snapshots: u64,
    pub applied: u64,
    pub stale: u64,
    pub buffered: u64,
    pub gaps: u64,
    /// Sum of the exact losses.
    pub lost_exact: u64,
    /// Gaps whose size is unknown.
    pub lost_unknown: u64,
    pub checksums_ok: u64,
    pub checksum_mismatches: u64,
    pub rejected: u64,
}

impl SyncStats {
    pub fn count(&mut self, e: &SyncEvent) {
        match e {
            SyncEvent::Snapshot { .. } => self.snapshots += 1,
            SyncEvent::Applied { .. } => self.applied += 1,
            SyncEvent::Stale { .. } => self.stale += 1,
            SyncEvent::Buffered => self.buffered += 1,
            SyncEvent::Gap { loss, .. } => {
                self.gaps += 1;
                match loss {
                    Loss::Exact(n) => self.lost_exact += n,
                    Loss::Unknown => self.lost_unknown += 1,
                }
            }
            SyncEvent::ChecksumMismatch { .. } => self.checksum_mismatches += 1,
            SyncEvent::ChecksumOk => self.checksums_ok += 1,
            SyncEvent::Rejected { .. } => self.rejected += 1,
        }
    }
}
