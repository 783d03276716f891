//! One input record in, one output record out: decode by the writer schema id, normalize,
//! and route to the clean topic or to quarantine. Nothing is dropped: every input becomes
//! exactly one output, except a record whose whole content is state folded into a later
//! record of the same key (a Uniswap V2 `Sync`, whose reserves the next `Swap` carries).
//! The `.wasm` shells and the tests drive this the same way.

use crate::reason::QuarantineReason;
use crate::rules::Rejection;
use std::collections::HashMap;
use tickwatch_model::{wire, AvroRecord, QuarantineRecord};

/// Header the tickwatch transform host adds to each input record: `topic/partition/offset`.
/// Redpanda does not expose offsets to transforms, so there the position is recorded as
/// unknown (partition and offset -1).
pub const SOURCE_HEADER: &str = "tickwatch-source";

/// The input record as the transform sees it.
pub struct Input<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// The record's broker timestamp (the transform's only clock).
    pub broker_time_ms: i64,
    /// `topic/partition/offset` from [`SOURCE_HEADER`], if the host sent it.
    pub source: Option<&'a [u8]>,
}

/// Where the one output goes, and its bytes (Confluent framed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    Clean {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Quarantine {
        key: Option<Vec<u8>>,
        value: Vec<u8>,
        reason: QuarantineReason,
    },
    /// Taken into the normalizer's state; a later clean record carries it (see [`Normalize::absorb`]).
    Absorbed,
}

/// A normalizer for one raw topic.
pub trait Normalize {
    type Raw: AvroRecord;
    type Clean: AvroRecord;
    fn normalize(&mut self, raw: &Self::Raw, broker_time_ms: i64) -> Result<Self::Clean, Rejection>;
    /// `Ok(true)` when the record is state for later records of its key rather than a record
    /// of its own (it then yields no output); checked before [`Normalize::normalize`].
    fn absorb(&mut self, _raw: &Self::Raw, _broker_time_ms: i64) -> Result<bool, Rejection> {
        Ok(false)
    }
    /// Partition key of a clean record (the canonical instrument).
    fn key(clean: &Self::Clean) -> &str;
    fn venue(raw: &Self::Raw) -> Option<&str>;
}

/// How a writer schema id was resolved.
enum Writer {
    /// Our own raw schema: the direct codec applies.
    Own,
    Other(Box<apache_avro::Schema>),
}

/// Routes records of one input topic.
pub struct Router<N: Normalize> {
    normalizer: N,
    input_topic: String,
    clean_schema_id: u32,
    quarantine_schema_id: u32,
    writers: HashMap<u32, Writer>,
}

impl<N: Normalize> Router<N> {
    pub fn new(normalizer: N, input_topic: &str, clean_schema_id: u32, quarantine_schema_id: u32) -> Router<N> {
        Router {
            normalizer,
            input_topic: input_topic.to_string(),
            clean_schema_id,
            quarantine_schema_id,
            writers: HashMap::new(),
        }
    }

    /// Route one record. `lookup` fetches a schema's text by id from the registry.
    pub fn route(&mut self, input: &Input<'_>, lookup: &mut dyn FnMut(u32) -> Result<String, String>) -> Routed {
        match self.try_route(input, lookup) {
            Ok(r) => r,
            Err((rejection, venue, instrument)) => self.quarantine(input, rejection, venue, instrument),
        }
    }

    #[allow(clippy::type_complexity)]
    fn try_route(
        &mut self,
        input: &Input<'_>,
        lookup: &mut dyn FnMut(u32) -> Result<String, String>,
    ) -> Result<Routed, (Rejection, Option<String>, Option<String>)> {
        let undecodable =
            |detail: String| (Rejection::new(QuarantineReason::Undecodable, "decode/v1", detail), None, None);
        let value = input.value.ok_or_else(|| undecodable("record has no value".into()))?;
        let (id, datum) = wire::unframe(value).map_err(|e| undecodable(e.to_string()))?;
        if let std::collections::hash_map::Entry::Vacant(slot) = self.writers.entry(id) {
            let text = lookup(id).map_err(|e| {
                (
                    Rejection::new(QuarantineReason::UnknownSchemaId, "schema_id/v1", format!("schema id {id}: {e}")),
                    None,
                    None,
                )
            })?;
            let schema = apache_avro::Schema::parse_str(&text)
                .map_err(|e| undecodable(format!("schema id {id} is not Avro: {e}")))?;
            let writer = if N::Raw::is_own_schema(&schema) { Writer::Own } else { Writer::Other(Box::new(schema)) };
            slot.insert(writer);
        }
        let raw = match &self.writers[&id] {
            Writer::Own => N::Raw::from_avro(datum),
            Writer::Other(schema) => N::Raw::from_avro_with_writer(datum, schema),
        }
        .map_err(|e| undecodable(e.to_string()))?;
        // The venue is copied only for a quarantined record.
        let refused = |r: Rejection| (r, N::venue(&raw).map(str::to_string), None);
        match self.normalizer.absorb(&raw, input.broker_time_ms) {
            Ok(true) => return Ok(Routed::Absorbed),
            Ok(false) => {}
            Err(r) => return Err(refused(r)),
        }
        let clean = self.normalizer.normalize(&raw, input.broker_time_ms).map_err(refused)?;
        let mut out = Vec::with_capacity(160);
        wire::write_header(self.clean_schema_id, &mut out);
        clean.write_avro(&mut out).expect("the direct codec cannot fail");
        Ok(Routed::Clean { key: N::key(&clean).as_bytes().to_vec(), value: out })
    }

    fn quarantine(&self, input: &Input<'_>, r: Rejection, venue: Option<String>, instrument: Option<String>) -> Routed {
        let (partition, offset) = parse_source(input.source);
        let record = QuarantineRecord {
            source_topic: self.input_topic.clone(),
            source_partition: partition,
            source_offset: offset,
            original_key: input.key.map(<[u8]>::to_vec),
            original_value: input.value.map(<[u8]>::to_vec).unwrap_or_default(),
            reason: r.reason.as_str().to_string(),
            rule: r.rule.to_string(),
            detail: r.detail,
            venue,
            instrument,
            quarantined_at_us: input.broker_time_ms.saturating_mul(1000),
        };
        let mut out = Vec::with_capacity(64 + record.original_value.len());
        wire::write_header(self.quarantine_schema_id, &mut out);
        record.write_avro(&mut out).expect("the direct codec cannot fail");
        Routed::Quarantine { key: input.key.map(<[u8]>::to_vec), value: out, reason: r.reason }
    }
}

/// `topic/partition/offset` → (partition, offset); (-1, -1) when absent or malformed.
fn parse_source(source: Option<&[u8]>) -> (i32, i64) {
    let parsed = source.and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| {
        let mut parts = s.rsplitn(3, '/');
        let offset = parts.next()?.parse().ok()?;
        let partition = parts.next()?.parse().ok()?;
        Some((partition, offset))
    });
    parsed.unwrap_or((-1, -1))
}

/// The trades normalizer as a [`Normalize`].
impl Normalize for crate::trades::TradeNormalizer {
    type Raw = tickwatch_model::RawTrade;
    type Clean = tickwatch_model::Trade;
    fn normalize(&mut self, raw: &Self::Raw, broker_time_ms: i64) -> Result<Self::Clean, Rejection> {
        crate::trades::TradeNormalizer::normalize(self, raw, broker_time_ms)
    }
    fn key(clean: &Self::Clean) -> &str {
        &clean.instrument
    }
    fn venue(raw: &Self::Raw) -> Option<&str> {
        Some(&raw.venue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::ListingBook;
    use crate::rules::RuleConfig;
    use crate::trades::TradeNormalizer;
    use tickwatch_model::{RawTrade, TakerSide, Trade};

    const NOW_MS: i64 = 1_634_036_400_000;
    const RAW_ID: u32 = 7;
    const EVOLVED_ID: u32 = 8;

    fn raw(symbol: &str, price: &str) -> RawTrade {
        RawTrade {
            venue: "binance".into(),
            market: "spot".into(),
            symbol: symbol.into(),
            trade_id: "42".into(),
            price: price.parse().unwrap(),
            size: "10".parse().unwrap(),
            taker_side: TakerSide::Buy,
            event_time_us: NOW_MS * 1000 - 1_000,
            receive_time_us: NOW_MS * 1000,
            sequence: None,
        }
    }

    /// The raw trade schema of a newer producer: one more field, with a default.
    fn evolved_schema() -> String {
        let mut json: serde_json::Value = serde_json::from_str(RawTrade::SCHEMA_JSON).unwrap();
        json["fields"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"name": "is_maker", "type": "boolean", "default": false}));
        json.to_string()
    }

    fn lookup(id: u32) -> Result<String, String> {
        match id {
            RAW_ID => Ok(RawTrade::SCHEMA_JSON.to_string()),
            EVOLVED_ID => Ok(evolved_schema()),
            other => Err(format!("40403 schema {other} not found")),
        }
    }

    fn router() -> Router<TradeNormalizer> {
        Router::new(TradeNormalizer::new(ListingBook::baked(), RuleConfig::default()), "raw.trades", 21, 22)
    }

    fn input(value: &[u8]) -> Input<'_> {
        Input { key: Some(b"NKNUSDT"), value: Some(value), broker_time_ms: NOW_MS, source: Some(b"raw.trades/2/1234") }
    }

    fn quarantined(r: &Routed) -> QuarantineRecord {
        match r {
            Routed::Quarantine { value, .. } => {
                let (id, datum) = wire::unframe(value).unwrap();
                assert_eq!(id, 22);
                QuarantineRecord::from_avro(datum).unwrap()
            }
            other => panic!("not quarantined: {other:?}"),
        }
    }

    #[test]
    fn a_good_trade_goes_clean_framed_with_the_clean_id() {
        let bytes = wire::frame(RAW_ID, &raw("NKNUSDT", "0.3412").to_avro().unwrap());
        match router().route(&input(&bytes), &mut lookup) {
            Routed::Clean { key, value } => {
                assert_eq!(key, b"NKN-USDT");
                let (id, datum) = wire::unframe(&value).unwrap();
                assert_eq!(id, 21);
                let t = Trade::from_avro(datum).unwrap();
                assert_eq!((t.instrument.as_str(), t.price.to_string()), ("NKN-USDT", "0.3412".to_string()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_evolved_writer_schema_decodes() {
        let schema = apache_avro::Schema::parse_str(&evolved_schema()).unwrap();
        let mut value = apache_avro::to_value(raw("NKNUSDT", "0.5")).unwrap().resolve(RawTrade::schema()).unwrap();
        if let apache_avro::types::Value::Record(f) = &mut value {
            f.push(("is_maker".into(), apache_avro::types::Value::Boolean(true)));
        }
        let datum = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .unwrap()
            .write_value_to_vec(value)
            .unwrap();
        let bytes = wire::frame(EVOLVED_ID, &datum);
        assert!(matches!(router().route(&input(&bytes), &mut lookup), Routed::Clean { .. }));
    }

    #[test]
    fn every_failure_is_kept_with_its_reason_and_position() {
        let mut r = router();
        let garbage = b"\x00\x00\x00\x00\x07\xff\xff".to_vec();
        let q = quarantined(&r.route(&input(&garbage), &mut lookup));
        assert_eq!((q.reason.as_str(), q.source_partition, q.source_offset), ("undecodable", 2, 1234));
        assert_eq!(q.original_value, garbage);
        assert_eq!(q.original_key.as_deref(), Some(&b"NKNUSDT"[..]));

        let not_confluent = b"{\"price\": 1}".to_vec();
        assert_eq!(quarantined(&r.route(&input(&not_confluent), &mut lookup)).reason, "undecodable");

        let unknown_id = wire::frame(99, &raw("NKNUSDT", "1").to_avro().unwrap());
        let q = quarantined(&r.route(&input(&unknown_id), &mut lookup));
        assert_eq!(q.reason, "unknown_schema_id");
        assert!(q.detail.contains("99"), "{}", q.detail);

        let unknown_symbol = wire::frame(RAW_ID, &raw("NOPEUSDT", "1").to_avro().unwrap());
        let q = quarantined(&r.route(&input(&unknown_symbol), &mut lookup));
        assert_eq!((q.reason.as_str(), q.venue.as_deref()), ("unknown_instrument", Some("binance")));

        let negative = wire::frame(RAW_ID, &raw("NKNUSDT", "-1").to_avro().unwrap());
        assert_eq!(quarantined(&r.route(&input(&negative), &mut lookup)).reason, "price_not_positive");

        let mut no_position = input(&negative);
        no_position.source = None;
        let q = quarantined(&r.route(&no_position, &mut lookup));
        assert_eq!((q.source_partition, q.source_offset), (-1, -1));
    }
}
