//! EVM log → pool event: topic0 selects the event, 32-byte words carry its fields.
//! Layouts (Uniswap V2/V3, PancakeSwap V2/V3) as the pools' event declarations define them.

use super::pool::Protocol;
use crate::reason::QuarantineReason;
use crate::rules::Rejection;
use num_bigint::{BigInt, BigUint, Sign};
use num_traits::ToPrimitive;
use tickwatch_model::hex::{hex_bytes, to_hex};

pub use tickwatch_model::{PANCAKE_V3_SWAP, V2_SWAP, V2_SYNC, V3_SWAP};

/// What a pool log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolEvent {
    Sync { reserve0: BigUint, reserve1: BigUint },
    Swap(Swap),
}

/// A swap, in the pool's own terms: amounts are signed, positive into the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    pub sender: String,
    pub recipient: String,
    pub amount0: BigInt,
    pub amount1: BigInt,
    /// The pool's state after the swap (V3 pools only).
    pub v3: Option<V3State>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3State {
    pub sqrt_price_x96: BigUint,
    pub liquidity: BigUint,
    pub tick: i32,
}

fn layout(detail: String) -> Rejection {
    Rejection::new(QuarantineReason::Undecodable, "dex_layout/v1", detail)
}

/// Decode one log of a pool of `protocol`.
pub fn decode(protocol: Protocol, topics: &[String], data: &[u8]) -> Result<PoolEvent, Rejection> {
    let topic0 = topics.first().ok_or_else(|| layout("log has no topics".into()))?;
    let v2 = matches!(protocol, Protocol::UniswapV2 | Protocol::PancakeswapV2);
    let t = topic0.to_ascii_lowercase();
    let (name, n_topics, n_words) = match t.as_str() {
        V2_SWAP if v2 => ("V2 Swap", 3, 4),
        V2_SYNC if v2 => ("V2 Sync", 1, 2),
        V3_SWAP if protocol == Protocol::UniswapV3 => ("V3 Swap", 3, 5),
        PANCAKE_V3_SWAP if protocol == Protocol::PancakeswapV3 => ("PancakeSwap V3 Swap", 3, 7),
        _ => {
            return Err(Rejection::new(
                QuarantineReason::UnknownEvent,
                "dex_event/v1",
                format!("topic0 {topic0} is not a swap or sync event of a {} pool", protocol.as_str()),
            ))
        }
    };
    if topics.len() != n_topics || data.len() != 32 * n_words {
        return Err(layout(format!(
            "{name} has {} topics and {} data bytes; expected {n_topics} and {}",
            topics.len(),
            data.len(),
            32 * n_words
        )));
    }
    let word = |i: usize| &data[32 * i..32 * (i + 1)];
    let uint = |i: usize| BigUint::from_bytes_be(word(i));
    let int = |i: usize| BigInt::from_signed_bytes_be(word(i));
    if n_topics == 1 {
        return Ok(PoolEvent::Sync { reserve0: uint(0), reserve1: uint(1) });
    }
    let sender = address(&topics[1])?;
    let recipient = address(&topics[2])?;
    let swap = if v2 {
        let net = |into: BigUint, out: BigUint| {
            BigInt::from_biguint(Sign::Plus, into) - BigInt::from_biguint(Sign::Plus, out)
        };
        Swap { sender, recipient, amount0: net(uint(0), uint(2)), amount1: net(uint(1), uint(3)), v3: None }
    } else {
        let tick = int(4).to_i32().filter(|t| (-(1 << 23)..(1 << 23)).contains(t));
        let tick = tick.ok_or_else(|| layout(format!("tick {} is not an int24", int(4))))?;
        Swap {
            sender,
            recipient,
            amount0: int(0),
            amount1: int(1),
            v3: Some(V3State { sqrt_price_x96: uint(2), liquidity: uint(3), tick }),
        }
    };
    Ok(PoolEvent::Swap(swap))
}

/// The address in an indexed topic: the low 20 bytes of the word, as 0x-lowercase hex.
fn address(topic: &str) -> Result<String, Rejection> {
    let word = hex_bytes(topic).map_err(|e| layout(format!("topic {topic}: {e}")))?;
    if word.len() != 32 {
        return Err(layout(format!("topic {topic} is not a 32-byte word")));
    }
    Ok(to_hex(&word[12..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in ws {
            let mut word = [0u8; 32];
            word[32 - w.len()..].copy_from_slice(w);
            out.extend_from_slice(&word);
        }
        out
    }

    fn negative(n: u8) -> [u8; 32] {
        // Two's complement of -n.
        let mut w = [0xffu8; 32];
        w[31] = 0u8.wrapping_sub(n);
        w
    }

    const WHO: &str = "0x000000000000000000000000ef1c6e67703c7bd7107eed8303fbe6ec2554bf6b";

    #[test]
    fn pancake_v3_has_seven_words_and_its_own_topic() {
        let data = words(&[&negative(5), &[7], &[1, 0], &[9], &negative(3), &[1], &[2]]);
        let topics = vec![PANCAKE_V3_SWAP.to_string(), WHO.into(), WHO.into()];
        let PoolEvent::Swap(s) = decode(Protocol::PancakeswapV3, &topics, &data).unwrap() else { panic!() };
        assert_eq!((s.amount0.to_string(), s.amount1.to_string()), ("-5".into(), "7".into()));
        let v3 = s.v3.unwrap();
        assert_eq!((v3.sqrt_price_x96.to_string(), v3.liquidity.to_string(), v3.tick), ("256".into(), "9".into(), -3));
        assert_eq!(s.sender, "0xef1c6e67703c7bd7107eed8303fbe6ec2554bf6b");
        // A Uniswap V3 decoder does not take it, nor a PancakeSwap V3 pool a Uniswap V3 log.
        assert_eq!(decode(Protocol::UniswapV3, &topics, &data).unwrap_err().reason, QuarantineReason::UnknownEvent);
        let uni = vec![V3_SWAP.to_string(), WHO.into(), WHO.into()];
        assert_eq!(
            decode(Protocol::PancakeswapV3, &uni, &data[..160]).unwrap_err().reason,
            QuarantineReason::UnknownEvent
        );
    }

    #[test]
    fn v2_swap_amounts_are_net_into_the_pool() {
        let data = words(&[&[0], &[100], &[40], &[0]]);
        let topics = vec![V2_SWAP.to_string(), WHO.into(), WHO.into()];
        let PoolEvent::Swap(s) = decode(Protocol::PancakeswapV2, &topics, &data).unwrap() else { panic!() };
        assert_eq!((s.amount0.to_string(), s.amount1.to_string(), s.v3), ("-40".into(), "100".into(), None));
    }

    #[test]
    fn layouts_are_checked() {
        let topics = vec![V2_SWAP.to_string(), WHO.into(), WHO.into()];
        let short = decode(Protocol::UniswapV2, &topics, &[0u8; 96]).unwrap_err();
        assert_eq!(short.reason, QuarantineReason::Undecodable);
        assert!(short.detail.contains("96 data bytes"), "{}", short.detail);
        assert_eq!(decode(Protocol::UniswapV2, &[], &[]).unwrap_err().reason, QuarantineReason::Undecodable);
        let bad_topic = vec![V2_SWAP.to_string(), "0xzz".into(), WHO.into()];
        assert_eq!(
            decode(Protocol::UniswapV2, &bad_topic, &[0u8; 128]).unwrap_err().reason,
            QuarantineReason::Undecodable
        );
        let big_tick = words(&[&[1], &[1], &[1], &[1], &[1, 0, 0, 0]]);
        let uni = vec![V3_SWAP.to_string(), WHO.into(), WHO.into()];
        assert!(decode(Protocol::UniswapV3, &uni, &big_tick).unwrap_err().detail.contains("int24"));
        let mint = vec!["0x4c209b5fc8ad50758f13e2e1088ba56a560dff690a1c6fef26394f4c03821c4f".to_string()];
        assert_eq!(decode(Protocol::UniswapV2, &mint, &[]).unwrap_err().reason, QuarantineReason::UnknownEvent);
    }
}
