//! The Confluent wire format on every Kafka message value: magic byte 0, the 4-byte
//! big-endian schema id from the Schema Registry, then the Avro datum.

pub const MAGIC: u8 = 0;
pub const HEADER_LEN: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message of {0} bytes is shorter than the 5-byte Confluent header")]
    TooShort(usize),
    #[error("magic byte is {0:#04x}, not 0x00: not Confluent wire format")]
    BadMagic(u8),
}

/// Prefix `datum` with the header for `schema_id`.
pub fn frame(schema_id: u32, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + datum.len());
    write_header(schema_id, &mut out);
    out.extend_from_slice(datum);
    out
}

pub fn write_header(schema_id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Split a framed message into (schema id, Avro datum).
pub fn unframe(message: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if message.len() < HEADER_LEN {
        return Err(WireError::TooShort(message.len()));
    }
    if message[0] != MAGIC {
        return Err(WireError::BadMagic(message[0]));
    }
    let id = u32::from_be_bytes([message[1], message[2], message[3], message[4]]);
    Ok((id, &message[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_unframes() {
        let m = frame(258, b"abc");
        assert_eq!(m, vec![0, 0, 0, 1, 2, b'a', b'b', b'c']);
        assert_eq!(unframe(&m).unwrap(), (258, &b"abc"[..]));
        assert_eq!(unframe(&[0, 0, 0]), Err(WireError::TooShort(3)));
        assert_eq!(unframe(&[1, 0, 0, 0, 1]), Err(WireError::BadMagic(1)));
    }
}
