//! OKX's book checksum: CRC32 (IEEE) of `bidPx:bidSz:askPx:askSz:...` over the top 25 levels
//! of each side, alternating bid and ask, with the exact strings the venue sent; where one
//! side is shorter its entries are skipped. Compared as a signed 32-bit integer.

use crate::book::OrderBook;

pub const LEVELS: usize = 25;

pub fn checksum(book: &OrderBook) -> i64 {
    let bids: Vec<_> = book.bids().take(LEVELS).collect();
    let asks: Vec<_> = book.asks().take(LEVELS).collect();
    let mut text = String::with_capacity(64 * LEVELS);
    for i in 0..LEVELS {
        for level in [bids.get(i), asks.get(i)].into_iter().flatten() {
            if !text.is_empty() {
                text.push(':');
            }
            text.push_str(&level.price_text);
            text.push(':');
            text.push_str(&level.size_text);
        }
    }
    crc32fast::hash(text.as_bytes()) as i32 as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Level;

    #[test]
    fn the_documented_example() {
        // Two levels each side: 3366.1:7:3366.8:9:3366:6:3368:8 gives -1881014294.
        let mut b = OrderBook::default();
        let lv = |p, s| Level::parse(p, s).unwrap();
        b.reset(vec![lv("3366.1", "7"), lv("3366", "6")], vec![lv("3366.8", "9"), lv("3368", "8")]);
        assert_eq!(checksum(&b), -1_881_014_294);
    }
}
