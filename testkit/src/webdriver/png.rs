//! What a screenshot shows, without an image library: base64 (as WebDriver sends it) and the
//! colours of a PNG's pixels.

use super::{err, Result};

/// Standard base64 (RFC 4648, with or without padding; whitespace ignored).
pub fn base64_decode(text: &str) -> Result<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text.as_bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            break;
        }
        let v = sextet(c).ok_or_else(|| err(format!("not base64: byte {c:#04x}")))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// What a PNG holds, to tell a real screenshot from a blank one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PngStats {
    pub width: u32,
    pub height: u32,
    /// Distinct colours (RGBA), counted up to 4 096.
    pub colours: usize,
    /// The share (per mille) of pixels that have the most common colour.
    pub dominant_per_mille: u32,
}

/// Decode an 8-bit, non-interlaced PNG (what Chromium's screenshots are) and count its
/// colours.
pub fn png_stats(png: &[u8]) -> Result<PngStats> {
    const SIGNATURE: [u8; 8] = [137, 80, 78, 71, 13, 10, 26, 10];
    if png.len() < 33 || png[..8] != SIGNATURE {
        return Err(err("not a PNG"));
    }
    let (mut pos, mut header, mut idat) = (8usize, None, Vec::new());
    while pos + 12 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = png.get(pos + 8..pos + 8 + len).ok_or_else(|| err("PNG chunk runs past the end"))?;
        match kind {
            b"IHDR" => header = Some(data.to_vec()),
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    let h = header.ok_or_else(|| err("PNG without IHDR"))?;
    let width = u32::from_be_bytes(h[0..4].try_into().unwrap());
    let height = u32::from_be_bytes(h[4..8].try_into().unwrap());
    let (depth, colour_type, interlace) = (h[8], h[9], h[12]);
    let channels = match colour_type {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        _ => return Err(err(format!("PNG colour type {colour_type} is not handled"))),
    };
    if depth != 8 || interlace != 0 {
        return Err(err(format!("PNG of bit depth {depth}, interlace {interlace} is not handled")));
    }
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&idat).map_err(|e| err(format!("PNG data: {e:?}")))?;
    let stride = width as usize * channels;
    if raw.len() < (stride + 1) * height as usize {
        return Err(err("PNG data shorter than its size"));
    }
    let mut prev = vec![0u8; stride];
    let mut line = vec![0u8; stride];
    let mut counts: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    for y in 0..height as usize {
        let row = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let filter = row[0];
        for x in 0..stride {
            let a = if x >= channels { line[x - channels] as i32 } else { 0 };
            let b = prev[x] as i32;
            let c = if x >= channels { prev[x - channels] as i32 } else { 0 };
            let predictor = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => return Err(err(format!("PNG filter {f} on row {y}"))),
            };
            line[x] = row[x + 1].wrapping_add(predictor as u8);
        }
        for px in line.chunks_exact(channels) {
            let rgba = match channels {
                1 => u32::from_be_bytes([px[0], px[0], px[0], 255]),
                2 => u32::from_be_bytes([px[0], px[0], px[0], px[1]]),
                3 => u32::from_be_bytes([px[0], px[1], px[2], 255]),
                _ => u32::from_be_bytes([px[0], px[1], px[2], px[3]]),
            };
            if counts.len() < 4_096 || counts.contains_key(&rgba) {
                *counts.entry(rgba).or_default() += 1;
            }
        }
        std::mem::swap(&mut prev, &mut line);
    }
    let pixels = width as u64 * height as u64;
    let dominant = counts.values().copied().max().unwrap_or(0);
    Ok(PngStats {
        width,
        height,
        colours: counts.len(),
        dominant_per_mille: (dominant * 1000).checked_div(pixels).map_or(1000, |m| m as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_the_rfc_examples() {
        for (plain, coded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(base64_decode(coded).unwrap(), plain.as_bytes());
        }
        assert!(base64_decode("Zm9v!").is_err());
    }

    /// A 2×2 RGB PNG (red, green / blue, white), filters None and Sub.
    #[test]
    fn png_stats_counts_colours() {
        let rows: Vec<u8> = [
            vec![0u8, 255, 0, 0, 0, 255, 0],
            // Sub: the second pixel as the difference from the first (white - blue).
            vec![1u8, 0, 0, 255, 255, 255, 0],
        ]
        .concat();
        let idat = miniz_oxide::deflate::compress_to_vec_zlib(&rows, 6);
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend_from_slice(data);
            c.extend_from_slice(&[0, 0, 0, 0]); // CRC, not checked
            c
        };
        let mut png = vec![137, 80, 78, 71, 13, 10, 26, 10];
        png.extend(chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0]));
        png.extend(chunk(b"IDAT", &idat));
        png.extend(chunk(b"IEND", &[]));
        let s = png_stats(&png).unwrap();
        assert_eq!((s.width, s.height, s.colours, s.dominant_per_mille), (2, 2, 4, 250));
    }
}
