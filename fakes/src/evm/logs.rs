//! Event logs as the pools emit them: topic0 of each event and its data as 32-byte ABI words
//! (big-endian, signed values in two's complement, sign-extended to 256 bits).

pub use tickwatch_model::{PANCAKE_V3_SWAP, V2_SWAP, V2_SYNC, V3_SWAP};

/// Whether `topic0` is one of the swap events (not Sync).
pub fn is_swap(topic0: &str) -> bool {
    [V2_SWAP, V3_SWAP, PANCAKE_V3_SWAP].iter().any(|t| t.eq_ignore_ascii_case(topic0))
}

/// One log of a block (its block number and hash come from the block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Log {
    pub address: String,
    pub topics: Vec<String>,
    pub data: Vec<u8>,
    pub tx_hash: String,
    pub tx_index: u64,
    pub log_index: u64,
}

/// What an event says, before it is placed in a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub topics: Vec<String>,
    pub data: Vec<u8>,
}

pub(crate) fn word_u128(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

pub(crate) fn word_i128(v: i128) -> [u8; 32] {
    let mut w = if v < 0 { [0xff; 32] } else { [0u8; 32] };
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

/// An address (0x + 40 hex) as a topic: left-padded to 32 bytes.
pub(crate) fn address_topic(address: &str) -> String {
    format!("0x{:0>64}", address.trim_start_matches("0x"))
}

fn words(list: &[[u8; 32]]) -> Vec<u8> {
    list.concat()
}

pub(crate) fn v2_sync(reserve0: u128, reserve1: u128) -> Event {
    Event { topics: vec![V2_SYNC.into()], data: words(&[word_u128(reserve0), word_u128(reserve1)]) }
}

/// The four amounts, in the event's order: amount0In, amount1In, amount0Out, amount1Out.
pub(crate) fn v2_swap(sender: &str, to: &str, amounts: [u128; 4]) -> Event {
    Event {
        topics: vec![V2_SWAP.into(), address_topic(sender), address_topic(to)],
        data: words(&amounts.map(word_u128)),
    }
}

/// A V3 pool's state after a swap, as its Swap event reports it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct V3After {
    pub sqrt_price_x96: u128,
    pub liquidity: u128,
    pub tick: i32,
    /// PancakeSwap V3 only: protocolFeesToken0/1 (their own topic0 and two more words).
    pub protocol_fees: Option<(u128, u128)>,
}

pub(crate) fn v3_swap(sender: &str, recipient: &str, amount0: i128, amount1: i128, after: V3After) -> Event {
    let mut data = vec![
        word_i128(amount0),
        word_i128(amount1),
        word_u128(after.sqrt_price_x96),
        word_u128(after.liquidity),
        word_i128(after.tick.into()),
    ];
    let topic0 = match after.protocol_fees {
        Some((fees0, fees1)) => {
            data.extend([word_u128(fees0), word_u128(fees1)]);
            PANCAKE_V3_SWAP
        }
        None => V3_SWAP,
    };
    Event { topics: vec![topic0.into(), address_topic(sender), address_topic(recipient)], data: words(&data) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwatch_model::hex::to_hex;

    #[test]
    fn signed_words_are_twos_complement() {
        assert_eq!(to_hex(&word_i128(-3)), format!("0x{}fd", "f".repeat(62)));
        assert_eq!(to_hex(&word_i128(195_877)), format!("0x{}2fd25", "0".repeat(59)));
        assert_eq!(word_i128(-1), [0xff; 32]);
    }

    #[test]
    fn v3_layouts_have_their_word_counts_and_topics() {
        let after = V3After { sqrt_price_x96: 1 << 96, liquidity: 5, tick: -2, protocol_fees: None };
        let uni = v3_swap("0x1111111111111111111111111111111111111111", "0x22", 1, -1, after);
        assert_eq!((uni.data.len(), uni.topics[0].as_str()), (160, V3_SWAP));
        assert_eq!(uni.topics[1], format!("0x{}{}", "0".repeat(24), "1".repeat(40)));
        let cake = v3_swap("0x11", "0x22", 1, -1, V3After { protocol_fees: Some((1, 2)), ..after });
        assert_eq!((cake.data.len(), cake.topics[0].as_str()), (224, PANCAKE_V3_SWAP));
        assert!(is_swap(&V2_SWAP.to_uppercase().replace("0X", "0x")) && !is_swap(V2_SYNC));
    }
}
