//! A mirror of an HPACK decoder's state, just detailed enough to find and
//! rewrite `:authority` values.
//!
//! The mirror walks every header block a client sends, in order, exactly as
//! the server's decoder (h2's) will: it keeps a dynamic table of the same
//! entries, sizes and evictions (RFC 7541 §4), but each entry is only its
//! name's length, its value's length and whether its name is `:authority`.
//! Values are not kept and, except for `:authority`, not decoded: a Huffman
//! value that enters the table is only counted.
//!
//! When a policy asks to replace an `:authority` literal's value, the block
//! is copied with that one representation re-encoded: the same kind
//! (indexed or not), the same name encoding, the new value as a plain string
//! of the SAME decoded length. Table entry sizes do not change, so the
//! server's table stays the same size as the client's encoder believes it
//! is, and every later index still points where the client meant.

use super::huffman;

/// RFC 7541 Appendix A: the static table's names (indices 1..=61).
const STATIC_NAMES: [&str; 61] = [
    ":authority",
    ":method",
    ":method",
    ":path",
    ":path",
    ":scheme",
    ":scheme",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "accept",
    "access-control-allow-origin",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-range",
    "content-type",
    "cookie",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "link",
    "location",
    "max-forwards",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "refresh",
    "retry-after",
    "server",
    "set-cookie",
    "strict-transport-security",
    "transfer-encoding",
    "user-agent",
    "vary",
    "via",
    "www-authenticate",
];

/// The static table's names, for the tests' reference codec.
#[cfg(test)]
pub(super) fn static_names() -> &'static [&'static str; 61] {
    &STATIC_NAMES
}

const AUTHORITY: &[u8] = b":authority";
/// RFC 7541 §4.1: an entry's size is its name and value lengths plus 32.
const ENTRY_OVERHEAD: usize = 32;
/// The default `SETTINGS_HEADER_TABLE_SIZE` (RFC 9113 §6.5.2), which hyper's
/// server keeps.
pub(super) const DEFAULT_TABLE_SIZE: usize = 4096;

/// Decides an `:authority` value's fate: `Some(replacement)` of the same
/// length to rewrite it, `None` to leave it.
pub(super) type Policy = fn(&[u8]) -> Option<Vec<u8>>;

/// A header block the decoder would refuse (or that the mirror cannot
/// follow): the shim stops interpreting the connection and lets the server
/// report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

impl From<huffman::Invalid> for Malformed {
    fn from(_: huffman::Invalid) -> Self {
        Malformed
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    name_len: usize,
    value_len: usize,
    authority: bool,
}

impl Entry {
    fn size(&self) -> usize {
        self.name_len + self.value_len + ENTRY_OVERHEAD
    }
}

/// The decoder-side state of one connection's header compression.
#[derive(Debug)]
pub(super) struct Mirror {
    /// Newest first, as the index counts them.
    entries: std::collections::VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// The largest size update the decoder accepts.
    limit: usize,
    /// Decoded `:authority` values and literal names.
    scratch: Vec<u8>,
}

/// A string literal's place in a block.
struct Str<'a> {
    huffman: bool,
    bytes: &'a [u8],
}

impl Mirror {
    /// A fresh connection's state, for a decoder that accepts dynamic
    /// tables up to `limit` bytes.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            entries: Default::default(),
            size: 0,
            max_size: limit,
            limit,
            scratch: Vec::new(),
        }
    }

    /// The dynamic table's size in bytes (RFC 7541 §4.1).
    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// Entries in the dynamic table.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Walks one complete header block, updating the table; returns the
    /// block re-encoded if `policy` replaced an `:authority` value.
    pub(super) fn walk(
        &mut self,
        block: &[u8],
        policy: Policy,
    ) -> Result<Option<Vec<u8>>, Malformed> {
        let mut pos = 0;
        let mut can_resize = true;
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        while pos < block.len() {
            let first = block[pos];
            if first & 0x80 != 0 {
                // Indexed header field: nothing changes.
                let index = integer(block, &mut pos, 7)?;
                self.name(index)?;
                can_resize = false;
                continue;
            }
            if first & 0xe0 == 0x20 {
                if !can_resize {
                    return Err(Malformed);
                }
                let size = integer(block, &mut pos, 5)?;
                if size > self.limit {
                    return Err(Malformed);
                }
                self.max_size = size;
                self.evict(0);
                continue;
            }
            can_resize = false;
            // Literal: with incremental indexing (6-bit prefix), without
            // indexing or never indexed (4-bit prefix).
            let indexing = first & 0xc0 == 0x40;
            let index = integer(block, &mut pos, if indexing { 6 } else { 4 })?;
            let (name_len, authority) = if index == 0 {
                let name = string(block, &mut pos)?;
                let len = self.decode(&name)?;
                (len, self.scratch == AUTHORITY)
            } else {
                self.name(index)?
            };
            let value_at = pos;
            let value = string(block, &mut pos)?;
            let value_len = if authority {
                let len = self.decode(&value)?;
                if let Some(new) = policy(&self.scratch).filter(|new| new.len() == len) {
                    let out = out.get_or_insert_with(|| Vec::with_capacity(block.len() + 16));
                    out.extend_from_slice(&block[copied..value_at]);
                    put_string(out, &new);
                    copied = pos;
                }
                len
            } else if indexing {
                decoded_len(&value)?
            } else {
                0
            };
            if indexing {
                self.insert(Entry {
                    name_len,
                    value_len,
                    authority,
                });
            }
        }
        Ok(out.map(|mut out| {
            out.extend_from_slice(&block[copied..]);
            out
        }))
    }

    /// The name at `index`: its length and whether it is `:authority`.
    fn name(&self, index: usize) -> Result<(usize, bool), Malformed> {
        match index {
            0 => Err(Malformed),
            1..=61 => Ok((STATIC_NAMES[index - 1].len(), index == 1)),
            _ => self
                .entries
                .get(index - 62)
                .map(|e| (e.name_len, e.authority))
                .ok_or(Malformed),
        }
    }

    /// Decodes `s` into the scratch buffer; returns its length.
    fn decode(&mut self, s: &Str<'_>) -> Result<usize, Malformed> {
        self.scratch.clear();
        if s.huffman {
            let scratch = &mut self.scratch;
            huffman::decode(s.bytes, |b| scratch.push(b))?;
        } else {
            self.scratch.extend_from_slice(s.bytes);
        }
        Ok(self.scratch.len())
    }

    fn insert(&mut self, entry: Entry) {
        // RFC 7541 §4.4: evict first; an entry larger than the whole table
        // empties it and is not added.
        self.evict(entry.size());
        if self.size + entry.size() <= self.max_size {
            self.size += entry.size();
            self.entries.push_front(entry);
        }
    }

    /// Evicts the oldest entries until `room` more bytes fit.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            match self.entries.pop_back() {
                Some(old) => self.size -= old.size(),
                None => return,
            }
        }
    }
}

/// The decoded length of a string literal.
fn decoded_len(s: &Str<'_>) -> Result<usize, Malformed> {
    if s.huffman {
        Ok(huffman::decode(s.bytes, |_| ())?)
    } else {
        Ok(s.bytes.len())
    }
}

/// RFC 7541 §5.1 integer with an `n`-bit prefix, at most 5 bytes long (as
/// h2 reads them, so a value never overflows 32 bits).
pub(super) fn integer(block: &[u8], pos: &mut usize, n: u8) -> Result<usize, Malformed> {
    let mask = (1u8 << n) - 1;
    let first = *block.get(*pos).ok_or(Malformed)? & mask;
    *pos += 1;
    if first < mask {
        return Ok(usize::from(first));
    }
    let mut value = usize::from(mask);
    for shift in [0, 7, 14, 21] {
        let b = *block.get(*pos).ok_or(Malformed)?;
        *pos += 1;
        value += usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Malformed)
}

/// RFC 7541 §5.2 string literal.
fn string<'a>(block: &'a [u8], pos: &mut usize) -> Result<Str<'a>, Malformed> {
    let huffman = *block.get(*pos).ok_or(Malformed)? & 0x80 != 0;
    let len = integer(block, pos, 7)?;
    let end = pos.checked_add(len).filter(|&end| end <= block.len());
    let bytes = &block[*pos..end.ok_or(Malformed)?];
    *pos += len;
    Ok(Str { huffman, bytes })
}

/// Writes an integer with an `n`-bit prefix; `flags` fills the bits above it.
pub(super) fn put_integer(out: &mut Vec<u8>, flags: u8, n: u8, mut value: usize) {
    let mask = (1u8 << n) - 1;
    if value < usize::from(mask) {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask);
    value -= usize::from(mask);
    while value >= 0x80 {
        out.push(0x80 | (value & 0x7f) as u8);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes a plain (not Huffman-coded) string literal.
pub(super) fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_integer(out, 0, 7, s.len());
    out.extend_from_slice(s);
}
