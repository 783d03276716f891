//! The byte layouts of the ABI: Kafka varints, record payloads and schema definitions.

/// A record as it crosses the ABI: key, value, headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payload {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_sized(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// A cursor over ABI bytes; every read checks bounds.
pub struct Cursor<'a>(pub &'a [u8]);

impl<'a> Cursor<'a> {
    pub fn varint(&mut self) -> Option<i64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Some(((v >> 1) as i64) ^ -((v & 1) as i64));
            }
        }
        None
    }

    /// A sized buffer; `Some(None)` is the null buffer (length -1).
    pub fn sized(&mut self) -> Option<Option<&'a [u8]>> {
        let n = self.varint()?;
        match n {
            -1 => Some(None),
            n if n >= 0 && (n as usize) <= self.0.len() => {
                let (head, rest) = self.0.split_at(n as usize);
                self.0 = rest;
                Some(Some(head))
            }
            _ => None,
        }
    }
}

impl Payload {
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(16 + self.key.as_ref().map_or(0, Vec::len) + self.value.as_ref().map_or(0, Vec::len));
        put_sized(&mut out, self.key.as_deref());
        put_sized(&mut out, self.value.as_deref());
        put_varint(&mut out, self.headers.len() as i64);
        for (k, v) in &self.headers {
            put_sized(&mut out, Some(k));
            put_sized(&mut out, v.as_deref());
        }
        out
    }

    /// Parse what a module wrote; `None` if malformed (negative lengths below -1, trailing bytes...).
    pub fn decode(bytes: &[u8]) -> Option<Payload> {
        let mut c = Cursor(bytes);
        let key = c.sized()?.map(<[u8]>::to_vec);
        let value = c.sized()?.map(<[u8]>::to_vec);
        let n = c.varint()?;
        if n < 0 {
            return None;
        }
        let mut headers = Vec::with_capacity(n.min(64) as usize);
        for _ in 0..n {
            let k = c.sized()?.unwrap_or_default().to_vec();
            let v = c.sized()?.map(<[u8]>::to_vec);
            headers.push((k, v));
        }
        c.0.is_empty().then_some(Payload { key, value, headers })
    }
}

/// `varint(format) sized(text) varint(n_refs)`, Avro (format 0) with no references.
pub fn encode_schema_def(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    put_varint(&mut out, 0);
    put_sized(&mut out, Some(text.as_bytes()));
    put_varint(&mut out, 0);
    out
}

/// The Avro text of a schema definition; `Err` names what is unsupported or malformed.
pub fn decode_schema_def(bytes: &[u8]) -> Result<String, &'static str> {
    let mut c = Cursor(bytes);
    let format = c.varint().ok_or("malformed schema definition")?;
    if format != 0 {
        return Err("only Avro schemas are supported");
    }
    let text = c.sized().flatten().ok_or("malformed schema definition")?;
    let refs = c.varint().ok_or("malformed schema definition")?;
    if refs != 0 {
        return Err("schema references are not supported");
    }
    String::from_utf8(text.to_vec()).map_err(|_| "schema text is not UTF-8")
}

/// `varint(id) varint(version) schema_def`
pub fn encode_subject_schema(id: i64, version: i64, text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, id);
    put_varint(&mut out, version);
    out.extend_from_slice(&encode_schema_def(text));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_validation() {
        let p = Payload {
            key: Some(b"k".to_vec()),
            value: None,
            headers: vec![(b"h".to_vec(), Some(b"v".to_vec())), (b"n".to_vec(), None)],
        };
        let bytes = p.encode();
        assert_eq!(bytes[0], 2); // varint(1)
        assert_eq!(Payload::decode(&bytes), Some(p));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(Payload::decode(&trailing), None);
        // A length of -2 is invalid.
        assert_eq!(Payload::decode(&[3]), None);
        assert_eq!(Payload::decode(&[]), None);
    }

    #[test]
    fn schema_defs() {
        assert_eq!(decode_schema_def(&encode_schema_def("\"string\"")).unwrap(), "\"string\"");
        let mut proto = Vec::new();
        put_varint(&mut proto, 1);
        assert!(decode_schema_def(&proto).is_err());
        let s = encode_subject_schema(5, 2, "x");
        assert_eq!(&s[..2], &[10, 4]);
    }
}
