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

/// Writes a record in the ABI layout as its parts come, at the end of a buffer, so that a
/// record read from the broker reaches the module without an owned [`Payload`] in between
/// (the runner writes a whole batch into one buffer).
pub struct PayloadWriter<'a> {
    out: &'a mut Vec<u8>,
    headers_left: usize,
}

impl<'a> PayloadWriter<'a> {
    /// Key and value, then `header_count` calls of [`PayloadWriter::header`].
    pub fn append(
        out: &'a mut Vec<u8>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        header_count: usize,
    ) -> PayloadWriter<'a> {
        put_sized(out, key);
        put_sized(out, value);
        put_varint(out, header_count as i64);
        PayloadWriter { out, headers_left: header_count }
    }

    pub fn header(&mut self, key: &[u8], value: Option<&[u8]>) {
        self.headers_left = self.headers_left.checked_sub(1).expect("more headers than announced");
        put_sized(self.out, Some(key));
        put_sized(self.out, value);
    }

    pub fn finish(self) {
        assert_eq!(self.headers_left, 0, "fewer headers than announced");
    }
}

/// A record in the ABI layout, checked, its parts borrowed from the bytes.
#[derive(Debug, Clone, Copy)]
pub struct PayloadView<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    header_count: usize,
    headers: &'a [u8],
}

impl<'a> PayloadView<'a> {
    /// `None` if malformed (lengths below -1, a header announced but missing, trailing bytes...).
    pub fn parse(bytes: &'a [u8]) -> Option<PayloadView<'a>> {
        let mut c = Cursor(bytes);
        let key = c.sized()?;
        let value = c.sized()?;
        let n = c.varint()?;
        if n < 0 {
            return None;
        }
        let headers = c.0;
        for _ in 0..n {
            c.sized()?;
            c.sized()?;
        }
        c.0.is_empty().then_some(PayloadView { key, value, header_count: n as usize, headers })
    }

    pub fn header_count(&self) -> usize {
        self.header_count
    }

    /// The headers, in order (a null header key reads as empty, as the broker's does).
    pub fn headers(&self) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> {
        let mut c = Cursor(self.headers);
        // Parsed once already: every read succeeds.
        (0..self.header_count).map_while(move |_| Some((c.sized()?.unwrap_or_default(), c.sized()?)))
    }

    pub fn to_payload(&self) -> Payload {
        Payload {
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers: self.headers().map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))).collect(),
        }
    }
}

/// Where a checked record's parts lie in its bytes, so that it can be viewed again without
/// a second parse ([`crate::OutRecord`] keeps one beside the module's bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    key: Option<(usize, usize)>,
    value: Option<(usize, usize)>,
    headers_at: usize,
    header_count: usize,
}

impl Layout {
    /// `None` if `bytes` is malformed ([`PayloadView::parse`]).
    pub fn of(bytes: &[u8]) -> Option<Layout> {
        let view = PayloadView::parse(bytes)?;
        // The view's slices borrow `bytes`: their distance from its start is their place.
        let at = |part: &[u8]| part.as_ptr() as usize - bytes.as_ptr() as usize;
        let span = |part: &[u8]| (at(part), at(part) + part.len());
        Some(Layout {
            key: view.key.map(span),
            value: view.value.map(span),
            headers_at: at(view.headers),
            header_count: view.header_count,
        })
    }

    /// The view of the `bytes` this layout was taken of.
    pub fn view<'a>(&self, bytes: &'a [u8]) -> PayloadView<'a> {
        PayloadView {
            key: self.key.map(|(a, b)| &bytes[a..b]),
            value: self.value.map(|(a, b)| &bytes[a..b]),
            header_count: self.header_count,
            headers: &bytes[self.headers_at..],
        }
    }
}

impl Payload {
    pub fn encode(&self) -> Vec<u8> {
        let sized = |b: Option<&Vec<u8>>| 5 + b.map_or(0, Vec::len);
        let size = sized(self.key.as_ref())
            + sized(self.value.as_ref())
            + self.headers.iter().map(|(k, v)| sized(Some(k)) + sized(v.as_ref())).sum::<usize>()
            + 5;
        let mut out = Vec::with_capacity(size);
        let mut w = PayloadWriter::append(&mut out, self.key.as_deref(), self.value.as_deref(), self.headers.len());
        for (k, v) in &self.headers {
            w.header(k, v.as_deref());
        }
        w.finish();
        out
    }

    /// Parse what a module wrote; `None` if malformed (negative lengths below -1, trailing bytes...).
    pub fn decode(bytes: &[u8]) -> Option<Payload> {
        PayloadView::parse(bytes).map(|v| v.to_payload())
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
        // A header announced but missing.
        let mut short = Vec::new();
        PayloadWriter::append(&mut short, None, None, 0).finish();
        short[2] = 2; // varint(1) header
        assert_eq!(Payload::decode(&short), None);
    }

    #[test]
    fn writer_and_view_agree_with_the_owned_payload() {
        let p = Payload {
            key: None,
            value: Some(b"value".to_vec()),
            headers: vec![(b"a".to_vec(), Some(b"1".to_vec())), (b"b".to_vec(), None), (vec![], Some(vec![]))],
        };
        // Written after what a buffer already holds, as the runner writes a batch.
        let mut bytes = b"before".to_vec();
        let mut w = PayloadWriter::append(&mut bytes, None, Some(b"value"), 3);
        w.header(b"a", Some(b"1"));
        w.header(b"b", None);
        w.header(b"", Some(b""));
        w.finish();
        assert_eq!(bytes.drain(..6).as_slice(), b"before");
        assert_eq!(bytes, p.encode());
        let view = PayloadView::parse(&bytes).unwrap();
        assert_eq!((view.key, view.value, view.header_count()), (None, Some(&b"value"[..]), 3));
        let headers: Vec<_> = view.headers().collect();
        assert_eq!(headers, vec![(&b"a"[..], Some(&b"1"[..])), (&b"b"[..], None), (&b""[..], Some(&b""[..]))]);
        assert_eq!(view.to_payload(), p);
        let layout = Layout::of(&bytes).unwrap();
        assert_eq!(layout.view(&bytes).to_payload(), p);
        let keyed = Payload { key: Some(b"k".to_vec()), ..p }.encode();
        assert_eq!(Layout::of(&keyed).unwrap().view(&keyed).key, Some(&b"k"[..]));
        assert_eq!(Layout::of(&keyed[..keyed.len() - 1]), None);
    }

    #[test]
    #[should_panic(expected = "fewer headers than announced")]
    fn the_writer_refuses_a_short_header_list() {
        PayloadWriter::append(&mut Vec::new(), None, None, 1).finish();
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
