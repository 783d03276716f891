//! The `when:` expression of a rule, e.g. `spread(binance, okx, BTC-USDT) > 10 bps for 5s`,
//! `ema_cross(binance, BTC-USDT, 1m) crosses up`, `abs(activity(*, *, trades)) > 3 sigma`,
//! `divergence(okx, *) > band for 10s`. Parsed once at load, so a bad rule stops the start.

use std::fmt;
use tickwatch_runtime::config_error::parse_duration_ms;

/// What a series is measured in (the signal's `unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bps,
    Pct,
    Count,
    Ms,
    Sigma,
    Sign,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Bps => "bps",
            Unit::Pct => "%",
            Unit::Count => "count",
            Unit::Ms => "ms",
            Unit::Sigma => "sigma",
            Unit::Sign => "sign",
        }
    }
}

/// A series kind the rules can watch: its signal `kind`, its labels in argument order, the
/// arguments that may be left out (taken as `*`), and its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    pub name: &'static str,
    pub args: &'static [&'static str],
    pub optional: usize,
    pub unit: Unit,
}

const VI: &[&str] = &["venue", "instrument"];
const VIC: &[&str] = &["venue", "instrument", "channel"];

pub const FUNCTIONS: &[Function] = &[
    Function { name: "spread", args: &["venue", "venue_b", "instrument"], optional: 0, unit: Unit::Bps },
    Function { name: "divergence", args: VI, optional: 0, unit: Unit::Bps },
    Function { name: "ema_cross", args: &["venue", "instrument", "interval"], optional: 0, unit: Unit::Sign },
    Function { name: "loss", args: VIC, optional: 1, unit: Unit::Pct },
    Function { name: "out_of_order", args: VIC, optional: 1, unit: Unit::Pct },
    Function { name: "messages", args: VIC, optional: 1, unit: Unit::Count },
    Function { name: "duplicates", args: VIC, optional: 1, unit: Unit::Count },
    Function { name: "gaps", args: VIC, optional: 1, unit: Unit::Count },
    Function { name: "reconnects", args: VIC, optional: 1, unit: Unit::Count },
    Function { name: "quarantined", args: VIC, optional: 1, unit: Unit::Count },
    Function { name: "silence", args: VIC, optional: 1, unit: Unit::Ms },
    Function { name: "activity", args: VIC, optional: 1, unit: Unit::Sigma },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Cmp::Gt => value > threshold,
            Cmp::Ge => value >= threshold,
            Cmp::Lt => value < threshold,
            Cmp::Le => value <= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }
}

/// What the value is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// A number in the function's unit.
    Value(f64),
    /// The feed's divergence band (normal deviation + buffer), from the rule's `bands`.
    Band,
}

/// A parsed `when:`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Condition {
    pub function: Function,
    /// One pattern per label of the function: a value or `*`.
    pub args: Vec<String>,
    /// Compare the absolute value (`abs(...)`; spreads always are).
    pub abs: bool,
    pub cmp: Cmp,
    pub threshold: Threshold,
    /// How long the comparison must hold, in event time, before the alert fires.
    pub for_us: i64,
    /// The text as written, for summaries.
    pub text: String,
}

impl Condition {
    /// Does `label`'s pattern accept `value`?
    pub fn matches(&self, label: &str, value: Option<&str>) -> bool {
        match self.function.args.iter().position(|a| *a == label) {
            Some(i) => self.args[i] == "*" || value == Some(self.args[i].as_str()),
            None => true,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for Condition {
    type Error = String;

    fn try_from(text: String) -> Result<Condition, String> {
        parse(&text)
    }
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let single = matches!(c, '(' | ')' | ',' | '%' | '|');
        let cmp = matches!(c, '>' | '<');
        if c.is_whitespace() || single || cmp {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if cmp && chars.peek() == Some(&'=') {
                chars.next();
                out.push(format!("{c}="));
            } else if single || cmp {
                out.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

struct Cursor {
    tokens: Vec<String>,
    at: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn next(&mut self, what: &str) -> Result<String, String> {
        let t = self.tokens.get(self.at).cloned().ok_or_else(|| format!("expected {what}, found the end"))?;
        self.at += 1;
        Ok(t)
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        let t = self.next(&format!("`{token}`"))?;
        if t == token {
            Ok(())
        } else {
            Err(format!("expected `{token}`, found `{t}`"))
        }
    }
}

fn names() -> String {
    FUNCTIONS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// Parse a `when:` expression; the error says what was expected.
pub fn parse(text: &str) -> Result<Condition, String> {
    let mut c = Cursor { tokens: tokens(text), at: 0 };
    let mut name = c.next("a function such as spread(...)")?;
    let abs = name == "abs";
    if abs {
        c.expect("(")?;
        name = c.next("a function inside abs(...)")?;
    }
    let function = *FUNCTIONS
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| format!("unknown function `{name}`; known: {}", names()))?;
    c.expect("(")?;
    let mut args = Vec::new();
    loop {
        let arg = c.next("an argument or `)`")?;
        if arg == ")" {
            break;
        }
        if arg == "," {
            return Err(format!("empty argument in {name}(...)"));
        }
        if !arg.chars().all(|ch| ch.is_ascii_alphanumeric() || "*-_./:".contains(ch)) {
            return Err(format!("`{arg}` is not a venue, instrument, channel or interval name"));
        }
        args.push(arg);
        match c.next("`,` or `)`")?.as_str() {
            "," => continue,
            ")" => break,
            other => return Err(format!("expected `,` or `)` after an argument, found `{other}`")),
        }
    }
    let wanted = function.args.len();
    if args.len() > wanted || args.len() + function.optional < wanted {
        return Err(format!("{name} takes ({}), found {} argument(s)", function.args.join(", "), args.len()));
    }
    args.resize(wanted, "*".to_string());
    if abs {
        c.expect(")")?;
    }
    let (cmp, threshold) = if function.unit == Unit::Sign {
        c.expect("crosses")?;
        match c.next("`up` or `down`")?.as_str() {
            "up" => (Cmp::Gt, Threshold::Value(0.0)),
            "down" => (Cmp::Lt, Threshold::Value(0.0)),
            other => return Err(format!("expected `up` or `down` after crosses, found `{other}`")),
        }
    } else {
        let cmp = match c.next("a comparison (>, >=, <, <=)")?.as_str() {
            ">" => Cmp::Gt,
            ">=" => Cmp::Ge,
            "<" => Cmp::Lt,
            "<=" => Cmp::Le,
            other => return Err(format!("expected a comparison (>, >=, <, <=), found `{other}`")),
        };
        let raw = c.next("a threshold")?;
        if raw == "band" {
            if function.name != "divergence" {
                return Err("`band` is a threshold of divergence(...) only".into());
            }
            (cmp, Threshold::Band)
        } else {
            let value: f64 =
                raw.parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| format!("`{raw}` is not a number"))?;
            let factor = unit(&mut c, function)?;
            (cmp, Threshold::Value(value * factor))
        }
    };
    let mut for_us = 0;
    if c.peek() == Some("for") {
        c.next("for")?;
        let mut d = c.next("a duration such as 5s")?;
        if d.chars().all(|ch| ch.is_ascii_digit()) {
            d.push_str(&c.next("a duration unit (ms, s, m, h)")?);
        }
        for_us = parse_duration_ms(&d).ok_or_else(|| format!("`{d}` is not a duration such as 500ms, 5s, 2m"))? * 1000;
    }
    if let Some(rest) = c.peek() {
        return Err(format!("unexpected `{rest}` after the condition"));
    }
    Ok(Condition {
        abs: abs || function.name == "spread",
        function,
        args,
        cmp,
        threshold,
        for_us,
        text: text.trim().to_string(),
    })
}

/// The optional unit after a threshold: it must be the function's own (or convertible).
fn unit(c: &mut Cursor, f: Function) -> Result<f64, String> {
    let Some(u) = c.peek().filter(|t| *t != "for").map(str::to_string) else {
        return Ok(1.0);
    };
    let factor = match (f.unit, u.as_str()) {
        (Unit::Bps, "bps") | (Unit::Pct, "%") | (Unit::Count, "count") | (Unit::Ms, "ms") => 1.0,
        (Unit::Sigma, "sigma" | "σ") => 1.0,
        (Unit::Ms, "s") => 1000.0,
        _ => return Err(format!("{} is measured in {}, not `{u}`", f.name, f.unit.name())),
    };
    c.next("unit")?;
    Ok(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_forms_parse() {
        let c = parse("spread(binance, okx, BTC-USDT) > 10 bps for 5s").unwrap();
        assert_eq!(
            (c.function.name, c.args.clone(), c.cmp, c.for_us),
            ("spread", vec!["binance".into(), "okx".into(), "BTC-USDT".into()], Cmp::Gt, 5_000_000)
        );
        assert!(c.abs && c.threshold == Threshold::Value(10.0));
        let c = parse("ema_cross(binance, BTC-USDT, 1m) crosses down").unwrap();
        assert_eq!((c.cmp, c.threshold), (Cmp::Lt, Threshold::Value(0.0)));
        let c = parse("abs(activity(*, *, trades)) > 3 sigma").unwrap();
        assert!(c.abs && c.matches("venue", Some("okx")) && !c.matches("channel", Some("depth")));
        let c = parse("silence(okx, BTC-USDT) >= 2 s for 1 m").unwrap();
        assert_eq!((c.threshold, c.for_us, c.args[2].as_str()), (Threshold::Value(2000.0), 60_000_000, "*"));
        assert_eq!(parse("loss(*, *, depth) > 1 %").unwrap().threshold, Threshold::Value(1.0));
        assert_eq!(parse("divergence(okx, *) > band for 10s").unwrap().threshold, Threshold::Band);
    }

    #[test]
    fn mistakes_are_named() {
        for (text, needle) in [
            ("sprad(a, b, c) > 1", "unknown function `sprad`"),
            ("spread(a, b) > 1", "spread takes (venue, venue_b, instrument)"),
            ("spread(a, b, c) > 1 %", "measured in bps"),
            ("spread(a, b, c) > x", "`x` is not a number"),
            ("spread(a, b, c) = 1", "expected a comparison"),
            ("spread(a, b, c) > 1 bps for 5 parsecs", "not a duration"),
            ("spread(a, b, c) > 1 bps soon", "unexpected `soon`"),
            ("ema_cross(a, b, 1m) > 0", "expected `crosses`"),
            ("loss(a, b, c) > band", "divergence(...) only"),
            ("spread(a, b, c", "expected `,` or `)`"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
