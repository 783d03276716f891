//! `0x`-prefixed hex, as EVM JSON-RPC writes bytes, hashes and addresses.

/// `0x`-prefixed hex (either case) → bytes.
pub fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").ok_or("no 0x prefix")?;
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    let nibble = |b: u8| (b as char).to_digit(16).map(|d| d as u8).ok_or("not a hex digit");
    digits.as_bytes().chunks(2).map(|p| Ok(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

/// Bytes → `0x`-prefixed lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 + 2 * bytes.len());
    out.push_str("0x");
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex_bytes("0x00fFa1").unwrap(), vec![0, 255, 161]);
        assert_eq!(to_hex(&[0, 255, 161]), "0x00ffa1");
        assert!(hex_bytes("00ff").is_err() && hex_bytes("0x0").is_err() && hex_bytes("0xgg").is_err());
    }
}
