//! HTTP/2 framing on the client-to-server byte stream (RFC 9113 §3.4, §4):
//! which bytes may pass as they are, which must wait for the rest of a
//! header block, and what replaces a rewritten block.

use super::hpack::{self, Mirror, Policy};
use std::borrow::Cow;

/// The client connection preface (RFC 9113 §3.4).
pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// A frame header's length.
pub(super) const HEADER_LEN: usize = 9;
/// The smallest `SETTINGS_MAX_FRAME_SIZE`, which every peer accepts: the
/// largest payload a re-encoded frame carries.
pub(super) const MAX_FRAME: usize = 16_384;
/// Most bytes of one header block held back: hyper's server default
/// `SETTINGS_MAX_HEADER_LIST_SIZE` (16 KiB, `hyper/src/proto/h2/server.rs`),
/// plus the frame headers and padding that may carry it. h2 refuses bigger
/// lists anyway; a bigger block is passed on as it is and the shim stops
/// interpreting the connection.
pub(super) const MAX_BLOCK: usize = 16 * 1024 + 2 * (HEADER_LEN + 256);

const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// What to do with the bytes at the start of the input.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// The first `n` bytes go on unchanged.
    Pass(usize),
    /// Nothing can go on before more bytes arrive: they start a frame
    /// header or a header block that is not complete.
    NeedMore,
    /// The first `n` bytes (one header block) are replaced by these.
    Replace(usize, Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// This many bytes of the preface have gone by.
    Preface(usize),
    Frames,
    /// Not (or no longer) a stream the shim can follow: everything passes.
    Passthrough,
}

#[derive(Debug, Clone, Copy)]
struct FrameHeader {
    len: usize,
    kind: u8,
    flags: u8,
    stream: u32,
}

impl FrameHeader {
    fn parse(b: &[u8]) -> Self {
        Self {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize,
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let len = self.len as u32;
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.extend_from_slice(&[self.kind, self.flags]);
        out.extend_from_slice(&self.stream.to_be_bytes());
    }
}

/// Follows one direction of a connection from its first byte.
#[derive(Debug)]
pub(super) struct Stepper {
    phase: Phase,
    /// Payload bytes of the current (passed) frame still to come.
    skip: usize,
    hpack: Mirror,
    policy: Policy,
}

impl Stepper {
    pub(super) fn new(policy: Policy) -> Self {
        Self {
            phase: Phase::Preface(0),
            skip: 0,
            hpack: Mirror::new(hpack::DEFAULT_TABLE_SIZE),
            policy,
        }
    }

    /// Whether everything passes from now on.
    pub(super) fn is_passthrough(&self) -> bool {
        self.phase == Phase::Passthrough
    }

    /// Stops interpreting: the rest of the stream passes as it is.
    pub(super) fn give_up(&mut self) {
        self.phase = Phase::Passthrough;
    }

    #[cfg(test)]
    pub(super) fn mirror(&self) -> &Mirror {
        &self.hpack
    }

    /// Decides about the start of `input`, the bytes that follow everything
    /// decided so far. Never `Pass(0)` for non-empty input.
    pub(super) fn step(&mut self, input: &[u8]) -> Step {
        if input.is_empty() {
            return Step::NeedMore;
        }
        match self.phase {
            Phase::Passthrough => Step::Pass(input.len()),
            Phase::Preface(seen) => {
                let n = (PREFACE.len() - seen).min(input.len());
                if input[..n] != PREFACE[seen..seen + n] {
                    // Not HTTP/2 with prior knowledge: the server says so.
                    self.give_up();
                    return Step::Pass(input.len());
                }
                self.phase = match seen + n {
                    done if done == PREFACE.len() => Phase::Frames,
                    partial => Phase::Preface(partial),
                };
                Step::Pass(n)
            }
            Phase::Frames if self.skip > 0 => {
                let n = self.skip.min(input.len());
                self.skip -= n;
                Step::Pass(n)
            }
            Phase::Frames if input.len() < HEADER_LEN => Step::NeedMore,
            Phase::Frames => {
                let head = FrameHeader::parse(input);
                match head.kind {
                    HEADERS => self.header_block(input),
                    // A CONTINUATION outside a block is a connection error
                    // the server reports; past it the stream is unknowable.
                    CONTINUATION => self.pass_rest(input),
                    _ => {
                        let n = (HEADER_LEN + head.len).min(input.len());
                        self.skip = HEADER_LEN + head.len - n;
                        Step::Pass(n)
                    }
                }
            }
        }
    }

    fn pass_rest(&mut self, input: &[u8]) -> Step {
        self.give_up();
        Step::Pass(input.len())
    }

    /// `input` starts with a HEADERS frame: finds the whole block (with its
    /// CONTINUATION frames), walks it and decides.
    fn header_block(&mut self, input: &[u8]) -> Step {
        let first = FrameHeader::parse(input);
        let mut end = 0;
        let mut frames = 0;
        loop {
            if input.len() < end + HEADER_LEN {
                return self.need_more(input);
            }
            let head = FrameHeader::parse(&input[end..]);
            if frames > 0 && (head.kind != CONTINUATION || head.stream != first.stream) {
                // An interrupted block: a connection error for the server.
                return self.pass_rest(input);
            }
            end += HEADER_LEN + head.len;
            frames += 1;
            if end > MAX_BLOCK {
                return self.pass_rest(input);
            }
            if input.len() < end {
                return self.need_more(input);
            }
            if head.flags & END_HEADERS != 0 {
                break;
            }
        }
        let Some((priority, fragment)) = fragment(&input[..end], first) else {
            return self.pass_rest(input);
        };
        match self.hpack.walk(&fragment, self.policy) {
            Ok(None) => Step::Pass(end),
            Ok(Some(block)) => Step::Replace(end, frame(first, priority, &block)),
            Err(hpack::Malformed) => self.pass_rest(input),
        }
    }

    fn need_more(&mut self, input: &[u8]) -> Step {
        if input.len() > MAX_BLOCK {
            return self.pass_rest(input);
        }
        Step::NeedMore
    }
}

/// A HEADERS frame's priority fields (stream dependency and weight).
type Priority = Option<[u8; 5]>;

/// The priority fields and the header block fragment of a complete block
/// (`frames`: a HEADERS frame, then any CONTINUATION frames); `None` if the
/// padding does not fit (a protocol error h2 reports).
fn fragment(frames: &[u8], first: FrameHeader) -> Option<(Priority, Cow<'_, [u8]>)> {
    let payload = &frames[HEADER_LEN..HEADER_LEN + first.len];
    let (payload, pad) = if first.flags & PADDED != 0 {
        let (&pad, rest) = payload.split_first()?;
        (rest, usize::from(pad))
    } else {
        (payload, 0)
    };
    let (priority, payload) = if first.flags & PRIORITY != 0 {
        let (fields, rest) = payload.split_first_chunk::<5>()?;
        (Some(*fields), rest)
    } else {
        (None, payload)
    };
    let own = payload.get(..payload.len().checked_sub(pad)?)?;
    let rest = &frames[HEADER_LEN + first.len..];
    if rest.is_empty() {
        // The common case: one frame, borrowed as it is.
        return Some((priority, Cow::Borrowed(own)));
    }
    let mut block = own.to_vec();
    let mut at = 0;
    while at < rest.len() {
        let head = FrameHeader::parse(&rest[at..]);
        block.extend_from_slice(&rest[at + HEADER_LEN..at + HEADER_LEN + head.len]);
        at += HEADER_LEN + head.len;
    }
    Some((priority, Cow::Owned(block)))
}

/// Frames a header block as a HEADERS frame (with `first`'s stream, its
/// END_STREAM flag and `priority`) and as many CONTINUATION frames as
/// [`MAX_FRAME`] requires. Padding is dropped.
fn frame(first: FrameHeader, priority: Priority, block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + 2 * HEADER_LEN + 5);
    let room = MAX_FRAME - priority.map_or(0, |p| p.len());
    let (head, mut rest) = block.split_at(room.min(block.len()));
    let flags = first.flags & (END_STREAM | PRIORITY);
    FrameHeader {
        len: head.len() + priority.map_or(0, |p| p.len()),
        kind: HEADERS,
        flags: flags | if rest.is_empty() { END_HEADERS } else { 0 },
        stream: first.stream,
    }
    .write(&mut out);
    if let Some(p) = priority {
        out.extend_from_slice(&p);
    }
    out.extend_from_slice(head);
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at(MAX_FRAME.min(rest.len()));
        FrameHeader {
            len: chunk.len(),
            kind: CONTINUATION,
            flags: if after.is_empty() { END_HEADERS } else { 0 },
            stream: first.stream,
        }
        .write(&mut out);
        out.extend_from_slice(chunk);
        rest = after;
    }
    out
}
