//! The byte stream h2 reads: passed untouched, or rewritten, however the
//! connection cuts it into reads.

use super::super::frames::{HEADER_LEN, MAX_FRAME, PREFACE, Step, Stepper};
use super::super::*;
use super::codec::{Codec, How, INDEXED_HUFFMAN, PLAIN_LITERAL, text};
use super::{BAD, FIXED, encode, request};
use tokio::io::AsyncReadExt;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A connection's first bytes: preface, SETTINGS, then per call a HEADERS
/// frame and a DATA frame; and the bytes h2 should read instead.
fn connection(authority: &str, calls: u32) -> (Vec<u8>, Vec<u8>) {
    let (mut sent, mut expected) = (PREFACE.to_vec(), PREFACE.to_vec());
    let settings = frame(0x4, 0, 0, &[0, 4, 0, 0x10, 0, 0]);
    sent.extend_from_slice(&settings);
    expected.extend_from_slice(&settings);
    let (mut client, mut fixed) = (Codec::new(), Codec::new());
    for i in 0..calls {
        let stream = 2 * i + 1;
        let block = encode(&mut client, &request(authority), INDEXED_HUFFMAN);
        sent.extend(frame(0x1, 0x4, stream, &block));
        // What the shim should send: the value as a plain string.
        let mut block = Vec::new();
        for (name, value) in request(authority) {
            let (value, how) = match name {
                ":authority" if !authority_is_valid(value.as_bytes()) => {
                    let plain = How {
                        huffman: false,
                        ..INDEXED_HUFFMAN
                    };
                    (substitute(value.as_bytes()), plain)
                }
                _ => (value.into_bytes(), INDEXED_HUFFMAN),
            };
            fixed.encode(&mut block, name.as_bytes(), &value, how);
        }
        expected.extend(frame(0x1, 0x4, stream, &block));
        let data = frame(0x0, 0x1, stream, &[0, 0, 0, 0, 2, 0x08, 0x02]);
        sent.extend_from_slice(&data);
        expected.extend_from_slice(&data);
    }
    (sent, expected)
}

/// A connection that delivers `data` in reads of the given sizes (cycled),
/// answering `Pending` before every other read if `pend`.
struct Chunks {
    data: Vec<u8>,
    sizes: Vec<usize>,
    at: usize,
    reads: usize,
    pend: bool,
    pending: bool,
}

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.pending = self.pend && !self.pending;
        if self.pending {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let size = self.sizes[self.reads % self.sizes.len()];
        let at = self.at;
        let n = size.min(self.data.len() - at).min(buf.remaining());
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        self.reads += 1;
        Poll::Ready(Ok(()))
    }
}

async fn read_through(data: &[u8], sizes: Vec<usize>, buf_len: usize) -> Vec<u8> {
    let chunks = Chunks {
        data: data.to_vec(),
        sizes,
        at: 0,
        reads: 0,
        pend: true,
        pending: false,
    };
    let mut shim = AnyAuthority::new(chunks);
    let (mut out, mut buf) = (Vec::new(), vec![0; buf_len]);
    loop {
        match shim.read(&mut buf).await.expect("read") {
            0 => return out,
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_good_authority_passes_byte_for_byte_however_it_is_read() {
    let (sent, expected) = connection("stockdata.default.svc:50051", 4);
    assert_eq!(sent, expected);
    for size in [1, 2, 7, 9, 10, 24, 33, 100, 4096] {
        assert_eq!(
            read_through(&sent, vec![size], 8192).await,
            sent,
            "reads of {size}"
        );
    }
    assert_eq!(read_through(&sent, vec![5, 300, 1, 17], 13).await, sent);
}

#[tokio::test]
async fn a_bad_authority_is_rewritten_however_the_block_is_split() {
    let (sent, expected) = connection(BAD, 4);
    assert_ne!(sent, expected);
    for size in 1..=64 {
        assert_eq!(
            read_through(&sent, vec![size], 8192).await,
            expected,
            "reads of {size}"
        );
    }
    for buf_len in [1, 9, 50, 8192] {
        let got = read_through(&sent, vec![3, 1000, 40], buf_len).await;
        assert_eq!(got, expected, "buffer of {buf_len}");
    }
}

/// Frames in `bytes` after the preface: (type, flags, stream, payload).
fn frames_of(bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = PREFACE.len();
    while at < bytes.len() {
        let len = u32::from_be_bytes([0, bytes[at], bytes[at + 1], bytes[at + 2]]) as usize;
        let stream =
            u32::from_be_bytes([bytes[at + 5], bytes[at + 6], bytes[at + 7], bytes[at + 8]]);
        let payload = bytes[at + HEADER_LEN..at + HEADER_LEN + len].to_vec();
        out.push((bytes[at + 3], bytes[at + 4], stream, payload));
        at += HEADER_LEN + len;
    }
    out
}

#[tokio::test]
async fn continuation_blocks_are_joined_and_split_at_the_frame_limit() {
    let mut client = Codec::new();
    let mut fields = request(BAD);
    fields.push(("x-big", "v".repeat(18_900)));
    let block = encode(&mut client, &fields, INDEXED_HUFFMAN);
    // The value goes from Huffman to plain: the block grows past a frame.
    let growth = BAD.len() - huffman::encoded_len(BAD.as_bytes());
    assert!(block.len() + growth + 5 > MAX_FRAME, "{}", block.len());
    // Sent as HEADERS(PADDED|PRIORITY) + two CONTINUATIONs, cut inside the
    // `:authority` literal.
    let (a, rest) = block.split_at(30);
    let (b, c) = rest.split_at(10);
    let mut first = vec![3, 0x80, 0, 0, 7, 42];
    first.extend_from_slice(a);
    first.extend_from_slice(&[0; 3]);
    let mut sent = PREFACE.to_vec();
    sent.extend(frame(0x1, 0x1 | 0x8 | 0x20, 5, &first));
    sent.extend(frame(0x9, 0, 5, b));
    sent.extend(frame(0x9, 0x4, 5, c));
    sent.extend(frame(0x0, 0x1, 7, b"after"));
    for size in [1, 7, 1000, 70_000] {
        let got = frames_of(&read_through(&sent, vec![size], 65_536).await);
        let kinds: Vec<_> = got.iter().map(|f| (f.0, f.1, f.2)).collect();
        // Grown past one frame: HEADERS (priority kept, padding dropped,
        // END_STREAM kept) + one CONTINUATION with END_HEADERS.
        assert_eq!(
            kinds,
            [(0x1, 0x21, 5), (0x9, 0x4, 5), (0x0, 0x1, 7)],
            "{size}"
        );
        assert_eq!(got[0].3[..5], [0x80, 0, 0, 7, 42]);
        assert_eq!(got[0].3.len() + got[1].3.len(), block.len() + growth + 5);
        assert!(got[0].3.len() <= MAX_FRAME);
        let joined = [&got[0].3[5..], &got[1].3[..]].concat();
        let decoded = text(&Codec::new().decode(&joined));
        assert_eq!(decoded[3].1, FIXED);
        assert_eq!(decoded[7].1.len(), 18_900);
        assert_eq!(got[2].3, b"after");
    }
}

#[tokio::test]
async fn after_a_malformed_block_everything_passes_untouched() {
    let mut client = Codec::new();
    let mut sent = PREFACE.to_vec();
    sent.extend(frame(0x1, 0x4, 1, &[0x41, 0x81, 0x00])); // bad Huffman
    let good = encode(&mut client, &request(BAD), PLAIN_LITERAL);
    sent.extend(frame(0x1, 0x4, 3, &good));
    assert_eq!(read_through(&sent, vec![4096], 8192).await, sent);
    let mut not_h2 = b"GET / HTTP/1.1\r\nhost: a:1:2\r\n\r\n".to_vec();
    not_h2.extend(frame(0x1, 0x4, 3, &good));
    assert_eq!(read_through(&not_h2, vec![3], 8192).await, not_h2);
}

#[test]
fn stepper_never_passes_nothing() {
    let (sent, _) = connection(BAD, 2);
    let mut stepper = Stepper::new(rewrite_invalid);
    let mut at = 0;
    while at < sent.len() {
        match stepper.step(&sent[at..]) {
            Step::Pass(n) | Step::Replace(n, _) => {
                assert!(n > 0);
                at += n;
            }
            Step::NeedMore => panic!("whole stream at {at}"),
        }
    }
    assert!(!stepper.is_passthrough());
    // :path, :authority, content-type, te and user-agent.
    assert_eq!(stepper.mirror().len(), 5);
}

/// The shim's cost per request: `cargo test -p stockdata --release --lib
/// shim_cost -- --ignored --nocapture`. Reads 20,000 gRPC calls' bytes in
/// 16 KiB reads, plain and through the shim.
#[tokio::test]
#[ignore = "a measurement, not a test"]
#[allow(clippy::disallowed_types)] // wall-clock time is what it measures
async fn shim_cost() {
    const CALLS: u32 = 20_000;
    for (name, authority, how) in [
        ("valid, indexed", "stockdata:50051", INDEXED_HUFFMAN),
        (
            "valid, literal every call",
            "stockdata:50051",
            PLAIN_LITERAL,
        ),
        ("rewritten every call", BAD, PLAIN_LITERAL),
    ] {
        let mut sent = PREFACE.to_vec();
        let mut client = Codec::new();
        for i in 0..CALLS {
            let block = encode(&mut client, &request(authority), how);
            sent.extend(frame(0x1, 0x4, 2 * i + 1, &block));
            sent.extend(frame(0x0, 0x1, 2 * i + 1, &[0, 0, 0, 0, 2, 0x08, 0x02]));
        }
        let mut best = [f64::MAX; 2];
        for _ in 0..5 {
            for (shimmed, best) in [false, true].into_iter().zip(&mut best) {
                let chunks = Chunks {
                    data: sent.clone(),
                    sizes: vec![16_384],
                    at: 0,
                    reads: 0,
                    pend: false,
                    pending: false,
                };
                let mut buf = vec![0; 16_384];
                let start = std::time::Instant::now();
                let mut total = 0;
                if shimmed {
                    let mut io = AnyAuthority::new(chunks);
                    while let Ok(n @ 1..) = io.read(&mut buf).await {
                        total += n;
                    }
                } else {
                    let mut io = chunks;
                    while let Ok(n @ 1..) = io.read(&mut buf).await {
                        total += n;
                    }
                }
                let ns = start.elapsed().as_nanos() as f64 / f64::from(CALLS);
                assert!(total >= sent.len() - 100);
                *best = best.min(ns);
            }
        }
        eprintln!(
            "{name:>26}: {} bytes/call, plain {:.0} ns/call, shim {:.0} ns/call (+{:.0} ns)",
            sent.len() / CALLS as usize,
            best[0],
            best[1],
            best[1] - best[0]
        );
    }
}
