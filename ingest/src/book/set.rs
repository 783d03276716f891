//! The books of one connection, by venue symbol, whatever rules keep each in sync.

use super::OrderBook;
use std::collections::HashMap;

/// What the connection loop needs of a venue's book.
pub trait SyncedBook {
    /// True while the book waits for a snapshot (at start and after a break).
    fn needs_snapshot(&self) -> bool;
    /// Drop the book so that it is rebuilt.
    fn invalidate(&mut self);
    /// The book and the update id it stands at, when it is valid.
    fn current(&self) -> Option<(i64, &OrderBook)>;
}

pub struct BookSet<B> {
    books: HashMap<String, B>,
}

impl<B: SyncedBook> BookSet<B> {
    pub fn new(symbols: impl IntoIterator<Item = String>, make: impl Fn() -> B) -> BookSet<B> {
        BookSet { books: symbols.into_iter().map(|s| (s, make())).collect() }
    }

    pub fn get_mut(&mut self, symbol: &str) -> Option<&mut B> {
        self.books.get_mut(symbol)
    }

    /// Symbols whose book waits for a snapshot.
    pub fn waiting(&self) -> Vec<String> {
        self.books.iter().filter(|(_, b)| b.needs_snapshot()).map(|(s, _)| s.clone()).collect()
    }

    pub fn current(&self, symbol: &str) -> Option<(i64, &OrderBook)> {
        self.books.get(symbol)?.current()
    }

    /// Drop `symbol`'s book, or every book when None.
    pub fn invalidate(&mut self, symbol: Option<&str>) {
        for (s, b) in self.books.iter_mut() {
            if symbol.is_none_or(|x| x == s) {
                b.invalidate();
            }
        }
    }
}
