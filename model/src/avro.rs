//! The Avro contract: each record type is tied to its `.avsc` file in `schemas/avro/` and
//! encodes straight from the Rust struct (serde, no intermediate value) when the writer
//! schema is our own, or resolves through `apache-avro` when an older or newer writer
//! schema wrote the bytes.

use crate::codec::{AvroValue, Reader};
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::Schema;
use serde::{de::DeserializeOwned, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum AvroError {
    #[error("schema {name} does not parse: {source}")]
    Schema { name: &'static str, source: Box<apache_avro::Error> },
    #[error("cannot encode {name}: {source}")]
    Encode { name: &'static str, source: Box<apache_avro::Error> },
    #[error("cannot decode {name}: {source}")]
    Decode { name: &'static str, source: Box<apache_avro::Error> },
    #[error("cannot decode {name}: {source}")]
    Codec { name: &'static str, source: crate::codec::CodecError },
    #[error("{name}: {trailing} bytes left after the datum")]
    Trailing { name: &'static str, trailing: usize },
}

/// A record type of the pipeline with its Avro schema.
pub trait AvroRecord: AvroValue + Serialize + DeserializeOwned + Sized {
    /// Record name, as in the `.avsc` file.
    const NAME: &'static str;
    /// The `.avsc` file name in `schemas/avro/`.
    const FILE: &'static str;
    /// The `.avsc` text (embedded at build time from `schemas/avro/`).
    const SCHEMA_JSON: &'static str;

    /// The parsed schema (parsed once per process).
    fn schema() -> &'static Schema {
        Self::codec().schema
    }

    /// Writer and reader for the schema, built once per process.
    fn codec() -> &'static RecordCodec;

    /// Avro binary datum (no header).
    fn to_avro(&self) -> Result<Vec<u8>, AvroError> {
        let mut out = Vec::with_capacity(128);
        self.write_avro(&mut out)?;
        Ok(out)
    }

    /// Append the Avro binary datum to `out` (the direct codec; cannot fail).
    fn write_avro(&self, out: &mut Vec<u8>) -> Result<(), AvroError> {
        self.write(out);
        Ok(())
    }

    /// Decode a datum written with this record's own schema (the direct codec).
    fn from_avro(datum: &[u8]) -> Result<Self, AvroError> {
        let mut reader = Reader::new(datum);
        let value = Self::read(&mut reader).map_err(|source| AvroError::Codec { name: Self::NAME, source })?;
        if reader.remaining() != 0 {
            return Err(AvroError::Trailing { name: Self::NAME, trailing: reader.remaining() });
        }
        Ok(value)
    }

    /// Is `writer` our own schema (same canonical form), so [`AvroRecord::from_avro`] applies?
    /// Callers cache the answer per schema id.
    fn is_own_schema(writer: &Schema) -> bool {
        writer.canonical_form() == Self::codec().canonical
    }

    /// Decode a datum written with another (compatible) writer schema, resolving it to ours.
    fn from_avro_with_writer(datum: &[u8], writer: &Schema) -> Result<Self, AvroError> {
        let wrap = |e| AvroError::Decode { name: Self::NAME, source: Box::new(e) };
        let reader = GenericDatumReader::builder(writer).human_readable(false).build().map_err(wrap)?;
        let mut cursor = datum;
        let mut value = reader.read_value(&mut cursor).map_err(wrap)?;
        if !cursor.is_empty() {
            return Err(AvroError::Trailing { name: Self::NAME, trailing: cursor.len() });
        }
        widen_decimals(&mut value);
        let value = value.resolve(Self::schema()).map_err(wrap)?;
        apache_avro::from_value::<Self>(&value).map_err(wrap)
    }
}

/// Sign-extend every decimal to 16 bytes. Other writers (fastavro, Java) send the shortest
/// two's-complement form, which is valid Avro, but `apache-avro`'s resolution refuses a
/// bytes-decimal shorter than its declared precision could need.
fn widen_decimals(value: &mut Value) {
    match value {
        Value::Decimal(d) => {
            if let Ok(bytes) = Vec::<u8>::try_from(d.clone()) {
                if bytes.len() < 16 {
                    let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) { 0xff } else { 0x00 };
                    let mut wide = vec![fill; 16 - bytes.len()];
                    wide.extend_from_slice(&bytes);
                    *d = apache_avro::Decimal::from(wide);
                }
            }
        }
        Value::Union(_, inner) => widen_decimals(inner),
        Value::Record(fields) => fields.iter_mut().for_each(|(_, v)| widen_decimals(v)),
        Value::Array(items) => items.iter_mut().for_each(widen_decimals),
        Value::Map(map) => map.values_mut().for_each(widen_decimals),
        _ => {}
    }
}

/// A parsed schema and its canonical form, built once per process.
pub struct RecordCodec {
    pub schema: &'static Schema,
    /// Parsing Canonical Form of the schema, to recognise it among writer schemas.
    pub canonical: String,
}

impl RecordCodec {
    /// Build from a schema that lives for the whole process.
    pub fn new(schema: &'static Schema) -> RecordCodec {
        RecordCodec { schema, canonical: schema.canonical_form() }
    }
}

/// Parse an `.avsc` text, naming it in the error.
pub fn parse_schema(name: &'static str, json: &str) -> Result<Schema, AvroError> {
    Schema::parse_str(json).map_err(|e| AvroError::Schema { name, source: Box::new(e) })
}

/// Ties a record type to its `.avsc` file.
macro_rules! avro_record {
    ($ty:ty, $name:literal, $file:literal) => {
        impl $crate::avro::AvroRecord for $ty {
            const NAME: &'static str = $name;
            const FILE: &'static str = $file;
            const SCHEMA_JSON: &'static str =
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/avro/", $file));
            fn codec() -> &'static $crate::avro::RecordCodec {
                static SCHEMA: std::sync::OnceLock<apache_avro::Schema> = std::sync::OnceLock::new();
                static CODEC: std::sync::OnceLock<$crate::avro::RecordCodec> = std::sync::OnceLock::new();
                CODEC.get_or_init(|| {
                    let schema = SCHEMA.get_or_init(|| {
                        $crate::avro::parse_schema($name, Self::SCHEMA_JSON).expect(concat!(
                            "schemas/avro/",
                            $file,
                            " is part of the build and must parse"
                        ))
                    });
                    $crate::avro::RecordCodec::new(schema)
                })
            }
        }
    };
}
pub(crate) use avro_record;
