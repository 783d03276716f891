//! Why a record went to quarantine: a closed set of codes, stable as strings because they
//! are stored (`QuarantineRecord.reason`) and counted (`dq_drop_counter{reason}`).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuarantineReason {
    PriceNotPositive,
    SizeNotPositive,
    UnknownInstrument,
    Undecodable,
    UnknownSchemaId,
    FutureTimestamp,
    StaleTimestamp,
    CrossedBook,
    PriceJump,
    DuplicateKey,
    /// A quantity that cannot be converted exactly (contract size × size off the 18-place grid).
    Inexact,
    /// An on-chain log that is not an event of its pool's protocol (wrong topic0).
    UnknownEvent,
}

impl QuarantineReason {
    pub const ALL: &'static [QuarantineReason] = &[
        QuarantineReason::PriceNotPositive,
        QuarantineReason::SizeNotPositive,
        QuarantineReason::UnknownInstrument,
        QuarantineReason::Undecodable,
        QuarantineReason::UnknownSchemaId,
        QuarantineReason::FutureTimestamp,
        QuarantineReason::StaleTimestamp,
        QuarantineReason::CrossedBook,
        QuarantineReason::PriceJump,
        QuarantineReason::DuplicateKey,
        QuarantineReason::Inexact,
        QuarantineReason::UnknownEvent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineReason::PriceNotPositive => "price_not_positive",
            QuarantineReason::SizeNotPositive => "size_not_positive",
            QuarantineReason::UnknownInstrument => "unknown_instrument",
            QuarantineReason::Undecodable => "undecodable",
            QuarantineReason::UnknownSchemaId => "unknown_schema_id",
            QuarantineReason::FutureTimestamp => "future_timestamp",
            QuarantineReason::StaleTimestamp => "stale_timestamp",
            QuarantineReason::CrossedBook => "crossed_book",
            QuarantineReason::PriceJump => "price_jump",
            QuarantineReason::DuplicateKey => "duplicate_key",
            QuarantineReason::Inexact => "inexact_quantity",
            QuarantineReason::UnknownEvent => "unknown_event",
        }
    }
}

impl std::fmt::Display for QuarantineReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut codes: Vec<&str> = QuarantineReason::ALL.iter().map(|r| r.as_str()).collect();
        assert!(codes.iter().all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), QuarantineReason::ALL.len());
    }
}
