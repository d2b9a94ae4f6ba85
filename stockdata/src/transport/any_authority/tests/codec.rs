//! A plain HPACK encoder and decoder for the tests: a full table of names
//! and values, independent of the shim's mirror, to check it against.

use super::super::hpack::{self, put_integer};
use super::super::huffman;
use std::collections::VecDeque;

/// RFC 7541 Appendix A values (the names are the shim's table).
fn static_value(index: usize) -> &'static [u8] {
    match index {
        2 => b"GET",
        3 => b"POST",
        4 => b"/",
        5 => b"/index.html",
        6 => b"http",
        7 => b"https",
        8 => b"200",
        9 => b"204",
        10 => b"206",
        11 => b"304",
        12 => b"400",
        13 => b"404",
        14 => b"500",
        16 => b"gzip, deflate",
        _ => b"",
    }
}

fn static_name(index: usize) -> &'static [u8] {
    hpack::static_names()[index - 1].as_bytes()
}

/// How to encode one field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct How {
    /// 0x40 incremental indexing, 0x00 without, 0x10 never indexed.
    pub kind: u8,
    pub huffman: bool,
    /// Refer to a table entry with the same name (and value) if there is one.
    pub refer: bool,
}

pub(crate) const INDEXED_HUFFMAN: How = How {
    kind: 0x40,
    huffman: true,
    refer: true,
};
pub(crate) const PLAIN_LITERAL: How = How {
    kind: 0x00,
    huffman: false,
    refer: false,
};

pub(crate) type Field = (Vec<u8>, Vec<u8>);

/// One side's HPACK state.
#[derive(Debug, Clone)]
pub(crate) struct Codec {
    entries: VecDeque<Field>,
    max: usize,
}

impl Codec {
    pub(crate) fn new() -> Self {
        Self {
            entries: VecDeque::new(),
            max: 4096,
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.entries
            .iter()
            .map(|(n, v)| n.len() + v.len() + 32)
            .sum()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn insert(&mut self, field: Field) {
        let size = field.0.len() + field.1.len() + 32;
        while self.size() + size > self.max && self.entries.pop_back().is_some() {}
        if self.size() + size <= self.max {
            self.entries.push_front(field);
        }
    }

    pub(crate) fn resize(&mut self, out: &mut Vec<u8>, max: usize) {
        put_integer(out, 0x20, 5, max);
        self.max = max;
        while self.size() > self.max && self.entries.pop_back().is_some() {}
    }

    fn get(&self, index: usize) -> Field {
        if index <= 61 {
            return (static_name(index).to_vec(), static_value(index).to_vec());
        }
        self.entries[index - 62].clone()
    }

    fn find(&self, name: &[u8], value: Option<&[u8]>) -> Option<usize> {
        let hit = |(n, v): (&[u8], &[u8])| n == name && value.is_none_or(|value| v == value);
        (1..=61)
            .find(|&i| hit((static_name(i), static_value(i))))
            .or_else(|| {
                let mut dynamic = self.entries.iter().map(|(n, v)| (&n[..], &v[..]));
                dynamic.position(hit).map(|i| i + 62)
            })
    }

    pub(crate) fn encode(&mut self, out: &mut Vec<u8>, name: &[u8], value: &[u8], how: How) {
        if how.refer
            && let Some(i) = self.find(name, Some(value))
        {
            put_integer(out, 0x80, 7, i);
            return;
        }
        let prefix = if how.kind == 0x40 { 6 } else { 4 };
        match self.find(name, None).filter(|_| how.refer) {
            Some(i) => put_integer(out, how.kind, prefix, i),
            None => {
                put_integer(out, how.kind, prefix, 0);
                put_str(out, name, how.huffman);
            }
        }
        put_str(out, value, how.huffman);
        if how.kind == 0x40 {
            self.insert((name.to_vec(), value.to_vec()));
        }
    }

    pub(crate) fn block(&mut self, fields: &[(&str, &str)], how: How) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in fields {
            self.encode(&mut out, n.as_bytes(), v.as_bytes(), how);
        }
        out
    }

    /// Decodes a block (panics on anything malformed).
    pub(crate) fn decode(&mut self, block: &[u8]) -> Vec<Field> {
        let mut fields = Vec::new();
        let mut pos = 0;
        let int = |pos: &mut usize, n| hpack::integer(block, pos, n).expect("integer");
        while pos < block.len() {
            let first = block[pos];
            if first & 0x80 != 0 {
                fields.push(self.get(int(&mut pos, 7)));
            } else if first & 0xe0 == 0x20 {
                self.max = int(&mut pos, 5);
                while self.size() > self.max && self.entries.pop_back().is_some() {}
            } else {
                let indexing = first & 0xc0 == 0x40;
                let index = int(&mut pos, if indexing { 6 } else { 4 });
                let name = match index {
                    0 => get_str(block, &mut pos),
                    i => self.get(i).0,
                };
                let field = (name, get_str(block, &mut pos));
                if indexing {
                    self.insert(field.clone());
                }
                fields.push(field);
            }
        }
        fields
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8], huffman: bool) {
    if huffman {
        put_integer(out, 0x80, 7, huffman::encoded_len(s));
        huffman::encode(s, out);
    } else {
        hpack::put_string(out, s);
    }
}

fn get_str(block: &[u8], pos: &mut usize) -> Vec<u8> {
    let huffman = block[*pos] & 0x80 != 0;
    let len = hpack::integer(block, pos, 7).expect("length");
    let bytes = &block[*pos..*pos + len];
    *pos += len;
    if !huffman {
        return bytes.to_vec();
    }
    let mut out = Vec::new();
    huffman::decode(bytes, |b| out.push(b)).expect("valid huffman");
    out
}

/// Fields as text pairs, for assertions.
pub(crate) fn text(fields: &[Field]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}
