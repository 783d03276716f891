//! Deterministic fake hashes and addresses: a splitmix64-style mix over a few words, no
//! cryptography (nothing here has to resist anyone, it only has to look like a hash and
//! never repeat). Block hashes carry their own (fork, number) under a mask, so the node can
//! answer `eth_getBlockByHash` for millions of synthetic headers without storing them.

/// Salts keep the different kinds of hash apart even for the same inputs.
const SALT_BLOCK: u64 = 0xb10c;
const SALT_FORK_MASK: u64 = 0xf0e4;
const SALT_NUMBER_MASK: u64 = 0x2b3e;
const SALT_WORDS: u64 = 0x3072;
const SALT_ADDRESS: u64 = 0xadd7;

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One well-mixed word from `words` (order matters).
pub(crate) fn mix(words: &[u64]) -> u64 {
    words.iter().fold(0x6a09_e667_f3bc_c908, |h, w| splitmix(h ^ splitmix(*w)))
}

fn hex_words(words: [u64; 4]) -> String {
    format!("0x{:016x}{:016x}{:016x}{:016x}", words[0], words[1], words[2], words[3])
}

/// A 32-byte hash of `key` (tx hashes, state roots): 0x + 64 hex.
pub(crate) fn hash32(key: &[u64]) -> String {
    let word = |i: u64| mix(&[mix(key), SALT_WORDS, i]);
    hex_words([word(0), word(1), word(2), word(3)])
}

/// The hash of block `number` of fork `fork`. Words 2 and 3 are fork and number masked by
/// a function of word 0, so [`decode_block_hash`] can read them back.
pub(crate) fn block_hash(seed: u64, fork: u64, number: u64) -> String {
    hex_words(block_words(seed, fork, number))
}

fn block_words(seed: u64, fork: u64, number: u64) -> [u64; 4] {
    let w0 = mix(&[seed, SALT_BLOCK, fork, number, 0]);
    let w1 = mix(&[seed, SALT_BLOCK, fork, number, 1]);
    [w0, w1, fork ^ mix(&[seed, SALT_FORK_MASK, w0]), number ^ mix(&[seed, SALT_NUMBER_MASK, w0])]
}

/// (fork, number) of a hash [`block_hash`] made with `seed`; None for any other text.
pub(crate) fn decode_block_hash(seed: u64, hash: &str) -> Option<(u64, u64)> {
    let digits = hash.strip_prefix("0x")?;
    if digits.len() != 64 {
        return None;
    }
    let word = |i: usize| u64::from_str_radix(digits.get(16 * i..16 * (i + 1))?, 16).ok();
    let (w0, w2, w3) = (word(0)?, word(2)?, word(3)?);
    let fork = w2 ^ mix(&[seed, SALT_FORK_MASK, w0]);
    let number = w3 ^ mix(&[seed, SALT_NUMBER_MASK, w0]);
    (block_hash(seed, fork, number) == hash.to_ascii_lowercase()).then_some((fork, number))
}

/// A 20-byte address derived from `key`: 0x + 40 lowercase hex.
pub(crate) fn address(key: &[u64]) -> String {
    let word = |i: u64| mix(&[mix(key), SALT_ADDRESS, i]);
    format!("0x{:016x}{:016x}{:08x}", word(0), word(1), word(2) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_hashes_decode_back_and_differ_per_fork() {
        let h = block_hash(7, 3, 19_000_000);
        assert_eq!(h.len(), 66);
        assert_eq!(decode_block_hash(7, &h), Some((3, 19_000_000)));
        assert_eq!(decode_block_hash(7, &h.to_uppercase().replace("0X", "0x")), Some((3, 19_000_000)));
        assert_eq!(decode_block_hash(8, &h), None, "another seed's hash is not ours");
        assert_ne!(h, block_hash(7, 4, 19_000_000));
        let mut tampered = h.clone();
        tampered.replace_range(10..11, if &h[10..11] == "0" { "1" } else { "0" });
        assert_eq!(decode_block_hash(7, &tampered), None);
    }

    #[test]
    fn addresses_and_hashes_have_their_sizes() {
        assert_eq!(address(&[1, 2]).len(), 42);
        assert_eq!(hash32(&[1, 2]).len(), 66);
        assert_ne!(hash32(&[1, 2]), hash32(&[2, 1]));
    }
}
