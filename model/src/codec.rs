//! A direct Avro binary codec for tickwatch's own record types.
//!
//! `apache-avro`'s serde path costs about a microsecond per trade each way, which alone would
//! eat the ingest and transform budgets. Our writer schemas are fixed at build time, so each
//! record encodes its fields in schema order straight into a buffer and decodes them straight
//! out of a slice. The contract tests check every record against `apache-avro`'s generic
//! decoder driven only by the `.avsc` file, so the two cannot drift apart; data written with
//! any other schema still goes through `apache-avro`'s resolution.

use crate::decimal::Decimal;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("datum ends early (needed {needed} more bytes)")]
    Eof { needed: usize },
    #[error("varint longer than 10 bytes")]
    VarintTooLong,
    #[error("negative length {0}")]
    NegativeLength(i64),
    #[error("string is not UTF-8")]
    Utf8,
    #[error("union index {0} is not 0 (null) or 1")]
    UnionIndex(i64),
    #[error("enum index {index} out of range for {name}")]
    EnumIndex { name: &'static str, index: i64 },
    #[error("boolean byte {0} is not 0 or 1")]
    Bool(u8),
    #[error("{0}")]
    Decimal(#[from] crate::decimal::DecimalError),
    #[error("int {0} out of range")]
    IntRange(i64),
}

/// A cursor over a datum.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(CodecError::Eof { needed: n - self.buf.len() });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn long(&mut self) -> Result<i64, CodecError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = *self.buf.first().ok_or(CodecError::Eof { needed: 1 })?;
            self.buf = &self.buf[1..];
            value |= ((byte & 0x7f) as u64) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err(CodecError::VarintTooLong)
    }

    fn len(&mut self) -> Result<usize, CodecError> {
        let n = self.long()?;
        if n < 0 {
            return Err(CodecError::NegativeLength(n));
        }
        Ok(n as usize)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.len()?;
        self.take(n)
    }

    pub fn string(&mut self) -> Result<String, CodecError> {
        std::str::from_utf8(self.bytes()?).map(str::to_string).map_err(|_| CodecError::Utf8)
    }

    /// Block-encoded array or map: calls `item` once per element.
    pub fn blocks(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), CodecError>) -> Result<(), CodecError> {
        loop {
            let mut count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                count = -count;
                self.long()?; // the block's size in bytes, which we do not need
            }
            for _ in 0..count {
                item(self)?;
            }
        }
    }

    /// The branch of a `["null", T]` union: `false` for null.
    pub fn present(&mut self) -> Result<bool, CodecError> {
        match self.long()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(CodecError::UnionIndex(other)),
        }
    }
}

pub fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// A value with an Avro binary form in tickwatch's schemas.
pub trait AvroValue: Sized {
    fn write(&self, out: &mut Vec<u8>);
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError>;
}

impl AvroValue for i64 {
    fn write(&self, out: &mut Vec<u8>) {
        write_long(out, *self)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        r.long()
    }
}

impl AvroValue for i32 {
    fn write(&self, out: &mut Vec<u8>) {
        write_long(out, *self as i64)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let v = r.long()?;
        i32::try_from(v).map_err(|_| CodecError::IntRange(v))
    }
}

impl AvroValue for bool {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(*self as u8)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(CodecError::Bool(b)),
        }
    }
}

impl AvroValue for f64 {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(f64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes")))
    }
}

impl AvroValue for String {
    fn write(&self, out: &mut Vec<u8>) {
        write_bytes(out, self.as_bytes())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        r.string()
    }
}

/// Avro `bytes`.
impl AvroValue for Vec<u8> {
    fn write(&self, out: &mut Vec<u8>) {
        write_bytes(out, self)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(r.bytes()?.to_vec())
    }
}

impl AvroValue for Decimal {
    fn write(&self, out: &mut Vec<u8>) {
        write_bytes(out, &self.to_avro_bytes())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Decimal::from_avro_bytes(r.bytes()?)?)
    }
}

/// `["null", T]`
impl<T: AvroValue> AvroValue for Option<T> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(2); // zig-zag 1
                v.write(out);
            }
        }
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        if r.present()? {
            Ok(Some(T::read(r)?))
        } else {
            Ok(None)
        }
    }
}

/// Arrays of records and strings (never of bytes: `Vec<u8>` is Avro `bytes`).
pub fn write_array<T: AvroValue>(out: &mut Vec<u8>, items: &[T]) {
    if !items.is_empty() {
        write_long(out, items.len() as i64);
        for i in items {
            i.write(out);
        }
    }
    out.push(0);
}

pub fn read_array<T: AvroValue>(r: &mut Reader<'_>) -> Result<Vec<T>, CodecError> {
    let mut out = Vec::new();
    r.blocks(|r| {
        out.push(T::read(r)?);
        Ok(())
    })?;
    Ok(out)
}

impl AvroValue for BTreeMap<String, String> {
    fn write(&self, out: &mut Vec<u8>) {
        if !self.is_empty() {
            write_long(out, self.len() as i64);
            for (k, v) in self {
                k.write(out);
                v.write(out);
            }
        }
        out.push(0);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let mut map = BTreeMap::new();
        r.blocks(|r| {
            let k = r.string()?;
            map.insert(k, r.string()?);
            Ok(())
        })?;
        Ok(map)
    }
}

/// Implements [`AvroValue`] for a unit enum as an Avro enum (symbols in declaration order,
/// which must be the schema's order).
macro_rules! avro_enum {
    ($ty:ty, $($variant:ident),+ $(,)?) => {
        impl $crate::codec::AvroValue for $ty {
            fn write(&self, out: &mut Vec<u8>) {
                $crate::codec::write_long(out, *self as i64)
            }
            fn read(r: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::CodecError> {
                let index = r.long()?;
                const ALL: &[$ty] = &[$(<$ty>::$variant),+];
                usize::try_from(index)
                    .ok()
                    .and_then(|i| ALL.get(i).copied())
                    .ok_or($crate::codec::CodecError::EnumIndex { name: stringify!($ty), index })
            }
        }
    };
}
pub(crate) use avro_enum;

/// Implements [`AvroValue`] for a record from its fields in schema order. Fields marked
/// `[array]` are Avro arrays.
macro_rules! avro_fields {
    ($ty:ident { $($field:ident $([$array:ident])?),+ $(,)? }) => {
        impl $crate::codec::AvroValue for $ty {
            fn write(&self, out: &mut Vec<u8>) {
                $( $crate::codec::avro_fields!(@write self, out, $field $($array)?); )+
            }
            fn read(r: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::CodecError> {
                Ok($ty { $( $field: $crate::codec::avro_fields!(@read r, $($array)?), )+ })
            }
        }
    };
    (@write $self:ident, $out:ident, $field:ident array) => { $crate::codec::write_array($out, &$self.$field) };
    (@write $self:ident, $out:ident, $field:ident) => { $crate::codec::AvroValue::write(&$self.$field, $out) };
    (@read $r:ident, array) => { $crate::codec::read_array($r)? };
    (@read $r:ident, ) => { $crate::codec::AvroValue::read($r)? };
}
pub(crate) use avro_fields;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_varints() {
        for (v, bytes) in [(0i64, vec![0u8]), (-1, vec![1]), (1, vec![2]), (-64, vec![0x7f]), (64, vec![0x80, 0x01])] {
            let mut out = Vec::new();
            write_long(&mut out, v);
            assert_eq!(out, bytes, "{v}");
            assert_eq!(Reader::new(&out).long().unwrap(), v);
        }
        for v in [i64::MIN, i64::MAX, 1_700_000_000_000_000] {
            let mut out = Vec::new();
            write_long(&mut out, v);
            assert_eq!(Reader::new(&out).long().unwrap(), v);
        }
        assert_eq!(Reader::new(&[0x80; 11]).long(), Err(CodecError::VarintTooLong));
        assert_eq!(Reader::new(&[0x80]).long(), Err(CodecError::Eof { needed: 1 }));
    }

    #[test]
    fn blocks_with_sizes_are_read() {
        // Two blocks: a negative count (with byte size) then a positive one.
        let mut out = Vec::new();
        write_long(&mut out, -1);
        write_long(&mut out, 2);
        "a".to_string().write(&mut out);
        write_long(&mut out, 1);
        "b".to_string().write(&mut out);
        out.push(0);
        assert_eq!(read_array::<String>(&mut Reader::new(&out)).unwrap(), vec!["a", "b"]);
    }
}
