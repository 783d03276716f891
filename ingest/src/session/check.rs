//! The periodic check of a local book against the venue's REST snapshot. The snapshot stands
//! at some update id; it is held until the local book reaches that very id and then compared
//! level by level (top [`CHECK_LEVELS`] of each side, exact decimals). A book that passed the
//! id without standing on it (the id fell inside one diff) cannot be compared this time. A
//! book that stays behind the snapshot's id without moving at all has lost the venue's
//! latest updates (nothing after them came to reveal the gap): that is a divergence too.

use super::venue::RestBook;
use crate::book::{Level, OrderBook};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tickwatch_model::Decimal;

/// Levels compared per side: deep enough to catch a wrong book, shallow enough that the
/// levels below a snapshot's depth (which a client never learns of) stay out of it.
pub const CHECK_LEVELS: usize = 50;

/// A held snapshot is given up after this long.
const HOLD: Duration = Duration::from_secs(60);

/// A book behind a held snapshot that has not moved for this long has lost updates.
pub const STUCK: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Same,
    /// The first difference, for the log.
    Diverged(String),
    /// The book never stood at the snapshot's id (or broke meanwhile).
    Inconclusive,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Diverged(_) => "diverged",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// Snapshots waiting for their book to reach them, per symbol.
#[derive(Default)]
pub struct BookCheck {
    /// Per symbol: the snapshot, when it came, and the id the book stood at then.
    held: HashMap<String, (RestBook, Instant, Option<i64>)>,
}

impl BookCheck {
    pub fn hold(&mut self, symbol: String, snap: RestBook, book_id: Option<i64>) {
        self.held.insert(symbol, (snap, Instant::now(), book_id));
    }

    pub fn holds(&self, symbol: &str) -> bool {
        self.held.contains_key(symbol)
    }

    /// Verdicts for every held snapshot that can be decided now; `book` gives a symbol's
    /// valid book and its id.
    pub fn decide<'a>(&mut self, book: impl Fn(&str) -> Option<(i64, &'a OrderBook)>) -> Vec<(String, Verdict)> {
        let mut out = Vec::new();
        self.held.retain(|symbol, (snap, since, then)| {
            let verdict = match book(symbol) {
                None => Some(Verdict::Inconclusive),
                Some((id, b)) if id == snap.last_id => Some(compare(snap, b)),
                Some((id, _)) if id > snap.last_id => Some(Verdict::Inconclusive),
                Some((id, _)) if Some(id) == *then && since.elapsed() > STUCK => Some(Verdict::Diverged(format!(
                    "the venue is at update {}, the book stayed at {id}: its latest updates were lost",
                    snap.last_id
                ))),
                Some(_) if since.elapsed() > HOLD => Some(Verdict::Inconclusive),
                Some(_) => None,
            };
            match verdict {
                Some(v) => {
                    out.push((symbol.clone(), v));
                    false
                }
                None => true,
            }
        });
        out
    }
}

/// Compare the top levels of both sides by exact value.
pub fn compare(snap: &RestBook, book: &OrderBook) -> Verdict {
    fn side<'a>(name: &str, rest: &[(String, String)], ours: impl Iterator<Item = &'a Level>) -> Result<(), String> {
        let ours: Vec<&Level> = ours.take(CHECK_LEVELS).collect();
        let theirs = &rest[..rest.len().min(CHECK_LEVELS)];
        for (i, (p, s)) in theirs.iter().enumerate() {
            let (Ok(p), Ok(s)) = (p.parse::<Decimal>(), s.parse::<Decimal>()) else {
                return Err(format!("{name} level {i}: venue sent [{p}, {s}]"));
            };
            match ours.get(i) {
                Some(l) if l.price == p && l.size == s => {}
                Some(l) => return Err(format!("{name} level {i}: venue [{p}, {s}], ours [{}, {}]", l.price, l.size)),
                None => return Err(format!("{name} level {i}: venue [{p}, {s}], ours missing")),
            }
        }
        if ours.len() > theirs.len() && theirs.len() < CHECK_LEVELS {
            let l = ours[theirs.len()];
            return Err(format!("{name} level {}: ours [{}, {}], venue has none", theirs.len(), l.price, l.size));
        }
        Ok(())
    }
    match side("bid", &snap.bids, book.bids()).and_then(|_| side("ask", &snap.asks, book.asks())) {
        Ok(()) => Verdict::Same,
        Err(why) => Verdict::Diverged(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: i64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> RestBook {
        let side = |l: &[(&str, &str)]| l.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect();
        RestBook { last_id: id, bids: side(bids), asks: side(asks) }
    }

    #[test]
    fn a_snapshot_waits_for_its_id_and_compares_exact_values() {
        let mut book = OrderBook::default();
        let lv = |p, s| Level::parse(p, s).unwrap();
        book.reset(vec![lv("10.50", "2"), lv("10.4", "1")], vec![lv("10.6", "3.0")]);
        let mut check = BookCheck::default();
        check.hold("X".into(), snap(7, &[("10.5", "2.00"), ("10.4", "1")], &[("10.6", "3")]), Some(5));
        assert!(check.decide(|_| Some((6, &book))).is_empty(), "held until the book reaches id 7");
        assert_eq!(check.decide(|_| Some((7, &book))), vec![("X".to_string(), Verdict::Same)]);
        check.hold("X".into(), snap(8, &[("10.5", "2")], &[("10.6", "3")]), Some(7));
        let v = check.decide(|_| Some((8, &book)));
        assert!(matches!(&v[0].1, Verdict::Diverged(why) if why.contains("bid level 1")), "{v:?}");
        check.hold("X".into(), snap(9, &[("10.5", "2")], &[]), Some(8));
        assert_eq!(check.decide(|_| Some((10, &book)))[0].1, Verdict::Inconclusive);
        assert!(!check.holds("X"));
    }
}
