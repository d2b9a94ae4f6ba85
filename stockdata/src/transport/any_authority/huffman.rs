//! HPACK's Huffman code (RFC 7541 Appendix B), decoding only.
//!
//! The code is canonical: sorted by length, then by symbol, each code is the
//! previous one plus one, shifted left by the difference in length. So the
//! 257 code lengths below determine every code, and a canonical decoder
//! (zlib's `puff` algorithm: one bit at a time, no tree) needs nothing else.
//! The shim decodes only what it must: `:authority` values, literal names,
//! and the lengths of values that enter the dynamic table.

/// Code length in bits of each symbol, 0..=255 then EOS (256).
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
    30,
];

const MAX_BITS: usize = 30;
const EOS: u16 = 256;

/// Symbols per code length, and the symbols sorted by (length, symbol).
struct Canonical {
    count: [u16; MAX_BITS + 1],
    symbols: [u16; 257],
}

const CANONICAL: Canonical = canonical();

const fn canonical() -> Canonical {
    let mut count = [0u16; MAX_BITS + 1];
    let mut s = 0;
    while s < 257 {
        count[LENGTHS[s] as usize] += 1;
        s += 1;
    }
    let mut offset = [0u16; MAX_BITS + 2];
    let mut len = 1;
    while len <= MAX_BITS {
        offset[len + 1] = offset[len] + count[len];
        len += 1;
    }
    let mut symbols = [0u16; 257];
    let mut s = 0;
    while s < 257 {
        let len = LENGTHS[s] as usize;
        symbols[offset[len] as usize] = s as u16;
        offset[len] += 1;
        s += 1;
    }
    Canonical { count, symbols }
}

/// A Huffman string that breaks RFC 7541 §5.2: an EOS symbol, padding
/// longer than 7 bits, or padding that is not a prefix of EOS (all ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Invalid;

/// Decodes `src`, handing each byte to `emit`; returns how many there were.
pub(super) fn decode(src: &[u8], mut emit: impl FnMut(u8)) -> Result<usize, Invalid> {
    let table = &CANONICAL;
    let (mut code, mut first, mut index, mut len) = (0u32, 0u32, 0u32, 0usize);
    // Bits since the last symbol, and whether they were all ones.
    let mut ones = true;
    let mut decoded = 0;
    for byte in src {
        for shift in (0..8).rev() {
            let bit = u32::from((byte >> shift) & 1);
            code |= bit;
            ones &= bit == 1;
            len += 1;
            let count = u32::from(table.count[len]);
            if code < first + count {
                let symbol = table.symbols[(index + code - first) as usize];
                if symbol == EOS {
                    return Err(Invalid);
                }
                emit(symbol as u8);
                decoded += 1;
                (code, first, index, len, ones) = (0, 0, 0, 0, true);
                continue;
            }
            if len == MAX_BITS {
                return Err(Invalid);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
    }
    if len > 7 || !ones {
        return Err(Invalid);
    }
    Ok(decoded)
}

/// Encodes `src` (for tests: the shim itself writes plain strings).
#[cfg(test)]
pub(super) fn encode(src: &[u8], dst: &mut Vec<u8>) {
    let codes = codes();
    let (mut acc, mut bits) = (0u64, 0u32);
    for &b in src {
        let len = u32::from(LENGTHS[b as usize]);
        acc = (acc << len) | u64::from(codes[b as usize]);
        bits += len;
        while bits >= 8 {
            bits -= 8;
            dst.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        // Pad with the most significant bits of EOS (all ones).
        dst.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) as u8);
    }
}

/// The length in bytes of `src` Huffman-encoded.
#[cfg(test)]
pub(super) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src.iter().map(|&b| usize::from(LENGTHS[b as usize])).sum();
    bits.div_ceil(8)
}

/// Every symbol's code, from the lengths (canonical assignment).
#[cfg(test)]
pub(super) fn codes() -> [u32; 257] {
    let mut order: Vec<usize> = (0..257).collect();
    order.sort_by_key(|&s| (LENGTHS[s], s));
    let mut codes = [0u32; 257];
    let (mut code, mut prev) = (0u32, LENGTHS[order[0]]);
    for (i, &s) in order.iter().enumerate() {
        if i > 0 {
            code = (code + 1) << (LENGTHS[s] - prev);
        }
        prev = LENGTHS[s];
        codes[s] = code;
    }
    codes
}
