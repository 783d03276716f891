//! One minute of reconciliation: our bar against the venue's. Equal prices and volume (and
//! trade count where the venue counts) make ours verified; a difference replaces ours with the
//! venue's numbers, verified; a venue bar we lack is backfilled; a bar of ours the venue does
//! not have is suspect. Every outcome is re-emitted at the venue-checked version.

use super::{Series, VENUE_CHECKED_VERSION};
use tickwatch_ingest::history::VenueBar;
use tickwatch_model::{Kline, KlineVerification};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Match,
    Corrected,
    Backfilled,
    Unconfirmed,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Match, Outcome::Corrected, Outcome::Backfilled, Outcome::Unconfirmed];

    /// As in `kline_checks.outcome`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Match => "MATCH",
            Outcome::Corrected => "CORRECTED",
            Outcome::Backfilled => "BACKFILLED",
            Outcome::Unconfirmed => "UNCONFIRMED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Checked {
    pub outcome: Outcome,
    /// `field ours→venue` for each field that differed.
    pub differences: Vec<String>,
    /// The bar to publish.
    pub kline: Kline,
}

/// The fields that differ between our bar and the venue's.
pub fn differences(ours: &Kline, theirs: &VenueBar) -> Vec<String> {
    let mut out = Vec::new();
    let pairs = [
        ("open", ours.open, theirs.open),
        ("high", ours.high, theirs.high),
        ("low", ours.low, theirs.low),
        ("close", ours.close, theirs.close),
        ("volume", ours.volume, theirs.volume),
    ];
    for (name, a, b) in pairs {
        if a != b {
            out.push(format!("{name} {a}→{b}"));
        }
    }
    if let Some(n) = theirs.trade_count.filter(|n| *n != ours.trade_count) {
        out.push(format!("trades {}→{n}", ours.trade_count));
    }
    out
}

pub fn check(series: &Series, ours: Option<&Kline>, theirs: Option<&VenueBar>, now_us: i64) -> Option<Checked> {
    let checked = |outcome, differences, kline| Some(Checked { outcome, differences, kline });
    match (ours, theirs) {
        (None, None) => None,
        (None, Some(t)) => checked(Outcome::Backfilled, Vec::new(), series.kline_of(t, now_us)),
        (Some(o), None) => checked(Outcome::Unconfirmed, Vec::new(), restamped(o, KlineVerification::Suspect, now_us)),
        (Some(o), Some(t)) => {
            let diff = differences(o, t);
            if diff.is_empty() {
                checked(Outcome::Match, diff, restamped(o, KlineVerification::Verified, now_us))
            } else {
                checked(Outcome::Corrected, diff, series.kline_of(t, now_us))
            }
        }
    }
}

fn restamped(k: &Kline, verification: KlineVerification, now_us: i64) -> Kline {
    Kline { verification, version: VENUE_CHECKED_VERSION, emitted_at_us: now_us, ..k.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwatch_model::{Decimal, InstrumentKind};

    fn series() -> Series {
        Series {
            venue: "binance".into(),
            instrument: "BTC-USDT".into(),
            symbol: "BTCUSDT".into(),
            kind: InstrumentKind::Spot,
            rest_url: String::new(),
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn venue_bar(volume: &str, trades: Option<i64>) -> VenueBar {
        VenueBar {
            open_time_ms: 60_000,
            open: d("100"),
            high: d("101.5"),
            low: d("99"),
            close: d("100.25"),
            volume: d(volume),
            quote_volume: Some(d("300")),
            trade_count: trades,
            taker_buy_volume: Some(d("1")),
            taker_buy_quote_volume: Some(d("100")),
        }
    }

    fn ours(volume: &str, trades: i64) -> Kline {
        Kline {
            version: 3,
            trade_count: trades,
            first_trade_id: "7".into(),
            ..series().kline_of(&venue_bar(volume, None), 1)
        }
    }

    #[test]
    fn each_pairing_has_its_outcome() {
        let s = series();
        let m = check(&s, Some(&ours("3", 12)), Some(&venue_bar("3", Some(12))), 99).unwrap();
        assert_eq!(m.outcome, Outcome::Match);
        assert_eq!((m.kline.verification, m.kline.version), (KlineVerification::Verified, VENUE_CHECKED_VERSION));
        assert_eq!(m.kline.first_trade_id, "7", "a matching bar keeps what only we know");

        let c = check(&s, Some(&ours("2.5", 10)), Some(&venue_bar("3", Some(12))), 99).unwrap();
        assert_eq!(c.outcome, Outcome::Corrected);
        assert_eq!(c.differences, ["volume 2.5→3", "trades 10→12"]);
        assert_eq!((c.kline.volume, c.kline.trade_count), (d("3"), 12));
        assert_eq!(c.kline.vwap, d("100"), "quote volume / volume");

        let no_count = check(&s, Some(&ours("3", 10)), Some(&venue_bar("3", None)), 99).unwrap();
        assert_eq!(no_count.outcome, Outcome::Match, "a venue without trade counts is not compared on them");

        let b = check(&s, None, Some(&venue_bar("3", Some(12))), 99).unwrap();
        assert_eq!((b.outcome, b.kline.verification), (Outcome::Backfilled, KlineVerification::Verified));
        let u = check(&s, Some(&ours("3", 12)), None, 99).unwrap();
        assert_eq!((u.outcome, u.kline.verification), (Outcome::Unconfirmed, KlineVerification::Suspect));
        assert!(check(&s, None, None, 99).is_none());
    }
}
