//! A flat JSON object (scalars only, no nesting) read straight off its text, for the hottest
//! frames: a trade is one such object, and building it field by field from the text skips
//! the general parser's per-field dispatch and string copies. Anything this reader does not
//! expect (an escape, a nested value, a number it cannot vouch for) stops it with `None`, and
//! the caller hands the frame to the general parser, which takes or names every case.

/// One value of a flat object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar<'a> {
    /// The text between the quotes (holds no escape).
    Str(&'a str),
    /// The number's text, checked against JSON's number grammar.
    Num(&'a str),
    Bool(bool),
    Null,
}

impl<'a> Scalar<'a> {
    pub fn str(self) -> Option<&'a str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer written without fraction or exponent (what a serde `i64` field takes).
    pub fn int(self) -> Option<i64> {
        match self {
            Scalar::Num(n) if !n.contains(['.', 'e', 'E']) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn bool(self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// Call `field` with each key and value of the object `text`, in order. None when `text` is
/// not exactly one flat object (whitespace around tokens allowed) or when `field` says None.
pub fn each_field<'a>(text: &'a str, mut field: impl FnMut(&'a str, Scalar<'a>) -> Option<()>) -> Option<()> {
    let mut r = Reader { text, at: 0 };
    r.expect(b'{')?;
    if r.peek()? == b'}' {
        r.at += 1;
        return r.end();
    }
    loop {
        r.skip_space();
        let key = r.string()?;
        r.expect(b':')?;
        r.skip_space();
        let value = r.scalar()?;
        field(key, value)?;
        match r.next_token()? {
            b',' => {}
            b'}' => return r.end(),
            _ => return None,
        }
    }
}

/// Set `slot` once: a key given twice is refused (as the general parser refuses it).
pub fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_space(&mut self) {
        while matches!(self.bytes().get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes().get(self.at).copied()
    }

    fn next_token(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next_token()? == want).then_some(())
    }

    fn end(&mut self) -> Option<()> {
        self.skip_space();
        (self.at == self.text.len()).then_some(())
    }

    /// A string without escapes or control characters; the reader stands after its quote.
    fn string(&mut self) -> Option<&'a str> {
        if self.bytes().get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        let len = self.bytes()[start..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if self.bytes()[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // Both ends are ASCII quotes, so the slice falls on character boundaries.
        self.text.get(start..start + len)
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        let rest = &self.bytes()[self.at..];
        let word = |w: &[u8], v: Scalar<'a>| rest.starts_with(w).then_some((w.len(), v));
        let (len, value) = match rest.first()? {
            b'"' => return self.string().map(Scalar::Str),
            b't' => word(b"true", Scalar::Bool(true))?,
            b'f' => word(b"false", Scalar::Bool(false))?,
            b'n' => word(b"null", Scalar::Null)?,
            _ => {
                let len = number_len(rest)?;
                (len, Scalar::Num(self.text.get(self.at..self.at + len)?))
            }
        };
        self.at += len;
        Some(value)
    }
}

/// The length of the JSON number at the start of `s`: `-? (0 | [1-9][0-9]*) (. [0-9]+)?
/// ([eE] [+-]? [0-9]+)?`, or None when it breaks that grammar.
fn number_len(s: &[u8]) -> Option<usize> {
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut at = usize::from(s.first() == Some(&b'-'));
    match s.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at += digits(at),
        _ => return None,
    }
    if s.get(at) == Some(&b'.') {
        let n = digits(at + 1);
        if n == 0 {
            return None;
        }
        at += 1 + n;
    }
    if matches!(s.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(s.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let n = digits(at);
        if n == 0 {
            return None;
        }
        at += n;
    }
    // A number runs up to a delimiter; `01` or `1x` is not a number.
    match s.get(at) {
        None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') => Some(at),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<Vec<(&str, Scalar<'_>)>> {
        let mut out = Vec::new();
        each_field(text, |k, v| {
            out.push((k, v));
            Some(())
        })?;
        Some(out)
    }

    #[test]
    fn reads_every_scalar_kind_in_order() {
        let got = read(r#"{"e":"aggTrade","E":1633998523963,"p":"0.3528","x":-1.5e-3,"m":true,"M":false,"n":null}"#);
        assert_eq!(
            got.unwrap(),
            vec![
                ("e", Scalar::Str("aggTrade")),
                ("E", Scalar::Num("1633998523963")),
                ("p", Scalar::Str("0.3528")),
                ("x", Scalar::Num("-1.5e-3")),
                ("m", Scalar::Bool(true)),
                ("M", Scalar::Bool(false)),
                ("n", Scalar::Null),
            ]
        );
        assert_eq!(
            read(" { \"a\" : 1 , \"b\":\"é\" } ").unwrap(),
            vec![("a", Scalar::Num("1")), ("b", Scalar::Str("é"))]
        );
        assert_eq!(read("{}").unwrap(), vec![]);
    }

    /// What is JSON but not flat is left to the general parser; what is not JSON is refused
    /// here as there.
    #[test]
    fn stops_at_anything_it_cannot_vouch_for() {
        let not_flat = [r#"{"a":"x\"y"}"#, r#"{"a":{"b":1}}"#, r#"{"a":[1]}"#];
        let not_json = [
            "{\"a\":\"x\ty\"}", // a control character in a string
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e}"#,
            r#"{"a":1x}"#,
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            "",
        ];
        for text in not_flat {
            assert_eq!(read(text), None, "{text}");
            assert!(serde_json::from_str::<serde_json::Value>(text).is_ok(), "{text}");
        }
        for text in not_json {
            assert_eq!(read(text), None, "{text}");
            assert!(serde_json::from_str::<serde_json::Value>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn scalars_convert_as_serde_would() {
        assert_eq!(Scalar::Num("-42").int(), Some(-42));
        assert_eq!(Scalar::Num("1.0").int(), None);
        assert_eq!(Scalar::Num("1e3").int(), None);
        assert_eq!(Scalar::Num("99999999999999999999").int(), None);
        assert_eq!(Scalar::Str("1").int(), None);
        assert_eq!(Scalar::Bool(true).bool(), Some(true));
        let mut slot = None;
        assert_eq!(once(&mut slot, Some(1)), Some(()));
        assert_eq!(once(&mut slot, Some(2)), None);
        assert_eq!(once(&mut None::<i32>, None), None);
    }
}
