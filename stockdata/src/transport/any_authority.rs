//! Accepting any `:authority`, as gRPC servers do.
//!
//! h2, under hyper's HTTP/2 server, parses every request's `:authority`
//! with the `http` crate's URI rules and answers one it refuses with
//! `RST_STREAM PROTOCOL_ERROR` ("malformed authority"); after 1,024 such
//! resets it closes the connection (`GOAWAY too_many_internal_resets`).
//! Real clients send such authorities: grpcio with a multi-address target
//! (`ipv4:127.0.0.1:5001,127.0.0.1:5002`) sends the target as it is. gRPC
//! servers accept any authority; h2 will not (hyperium/h2 #525, #442).
//!
//! [`AnyAuthority`] wraps an accepted connection, before hyper reads it,
//! and rewrites what h2 would refuse. It follows the client's bytes: the
//! preface, then each frame header; every frame passes untouched except
//! header blocks (HEADERS + CONTINUATION), which it walks with an HPACK
//! decoder state of its own that mirrors the client's encoder (dynamic table
//! with size updates; Huffman). Only when an `:authority` value would be
//! refused by `http::uri::Authority` does it re-encode that block, the value
//! replaced by one of the same length ([`substitute`]: every byte outside
//! `[A-Za-z0-9.-]` becomes `-`), so h2's dynamic table keeps the client's
//! sizes and later indexed references still line up. A block that grows
//! past a frame is split into CONTINUATION frames.
//!
//! Anything the shim cannot follow (not HTTP/2, a malformed block, a block
//! over 16 KiB, hyper's header list limit) is passed on as it is, and
//! the shim stops interpreting that connection: h2 reports the error as it
//! would have. An empty `:authority` cannot be fixed in place and still
//! fails. The server-to-client direction is never touched.
//!
//! Cost: a connection whose authorities are valid is read straight into
//! hyper's buffer; the shim reads frame headers and walks header blocks in
//! place, copying only the bytes of a frame header or header block that a
//! read cut in two. In a release build that is about 40 ns per gRPC call
//! whose headers the client indexes, 100 ns if it sends them all as
//! literals, 200–350 ns for a call it rewrites (`shim_cost` in the tests);
//! HTTP/2 and tonic spend some 15 µs per call.

use bytes::{Buf, BytesMut};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

mod frames;
mod hpack;
mod huffman;
#[cfg(test)]
mod tests;

use frames::{Step, Stepper};

/// An accepted HTTP/2 connection whose requests' `:authority` values are
/// made acceptable to h2 (see the [module docs](self)).
#[derive(Debug)]
pub struct AnyAuthority<S> {
    io: S,
    shim: Shim,
}

/// The read side's state.
#[derive(Debug)]
struct Shim {
    stepper: Stepper,
    /// Bytes read but not yet decided about (a partial frame header or
    /// header block), in stream order after everything released.
    held: BytesMut,
    /// Bytes decided about, to hand out before anything else.
    ready: BytesMut,
}

impl<S> AnyAuthority<S> {
    /// Wraps an accepted connection.
    pub fn new(io: S) -> Self {
        Self {
            io,
            shim: Shim::new(rewrite_invalid),
        }
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The wrapped connection, mutably (do not read from it).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }
}

/// What an `:authority` value becomes: each byte outside `[A-Za-z0-9.-]`
/// replaced by `-`, so `127.0.0.1:5001,127.0.0.1:5002` becomes
/// `127.0.0.1-5001-127.0.0.1-5002`, a valid registered name of the same
/// length.
pub fn substitute(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' => b,
            _ => b'-',
        })
        .collect()
}

/// Whether h2 accepts `value` as an `:authority` (it parses it with
/// `http::uri::Authority::from_maybe_shared`). A plain `host` or
/// `host:port` is decided without the parser's allocation.
pub fn authority_is_valid(value: &[u8]) -> bool {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"-._~".contains(b);
    let colons = value.iter().filter(|&&b| b == b':').count();
    if !value.is_empty() && colons <= 1 && value.iter().all(|b| plain(b) || *b == b':') {
        return true;
    }
    http::uri::Authority::try_from(value).is_ok()
}

fn rewrite_invalid(value: &[u8]) -> Option<Vec<u8>> {
    (!authority_is_valid(value)).then(|| substitute(value))
}

impl Shim {
    fn new(policy: hpack::Policy) -> Self {
        Self {
            stepper: Stepper::new(policy),
            held: BytesMut::new(),
            ready: BytesMut::new(),
        }
    }

    /// Decides about `fresh`, bytes just read into the caller's buffer after
    /// everything released so far (nothing is held). Returns how many of
    /// them may stay there; the rest has moved to `held` or `ready`.
    fn scan_in_place(&mut self, fresh: &[u8]) -> usize {
        let mut pos = 0;
        while pos < fresh.len() {
            match self.stepper.step(&fresh[pos..]) {
                Step::Pass(n) => pos += n,
                Step::NeedMore => {
                    self.held.extend_from_slice(&fresh[pos..]);
                    return pos;
                }
                Step::Replace(n, bytes) => {
                    self.ready.extend_from_slice(&bytes);
                    self.held.extend_from_slice(&fresh[pos + n..]);
                    self.decide_held();
                    return pos;
                }
            }
        }
        pos
    }

    /// Decides about as much of `held` as possible, moving it to `ready`.
    fn decide_held(&mut self) {
        while !self.held.is_empty() {
            match self.stepper.step(&self.held) {
                Step::Pass(n) => {
                    self.ready.extend_from_slice(&self.held[..n]);
                    self.held.advance(n);
                }
                Step::NeedMore => return,
                Step::Replace(n, bytes) => {
                    self.held.advance(n);
                    self.ready.extend_from_slice(&bytes);
                }
            }
        }
    }

    /// The connection ended: whatever is held goes on as it is.
    fn finish(&mut self) {
        self.stepper.give_up();
        let held = self.held.split();
        self.ready.extend_from_slice(&held);
    }

    /// Whether the shim has nothing to do any more.
    fn is_transparent(&self) -> bool {
        self.stepper.is_passthrough() && self.held.is_empty() && self.ready.is_empty()
    }

    /// Hands out `ready` bytes; whether there were any.
    fn serve(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.ready.is_empty() {
            return false;
        }
        let n = self.ready.len().min(buf.remaining());
        buf.put_slice(&self.ready[..n]);
        self.ready.advance(n);
        true
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AnyAuthority<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let shim = &mut this.shim;
            if shim.serve(buf) {
                return Poll::Ready(Ok(()));
            }
            if shim.is_transparent() {
                return Pin::new(&mut this.io).poll_read(cx, buf);
            }
            let start = buf.filled().len();
            ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
            let end = buf.filled().len();
            if end == start {
                if shim.held.is_empty() {
                    return Poll::Ready(Ok(())); // end of stream
                }
                shim.finish();
                continue;
            }
            let keep = if shim.held.is_empty() {
                shim.scan_in_place(&buf.filled()[start..end])
            } else {
                shim.held.extend_from_slice(&buf.filled()[start..end]);
                shim.decide_held();
                0
            };
            buf.set_filled(start + keep);
            if keep > 0 {
                return Poll::Ready(Ok(()));
            }
            // Nothing released yet: hand out what was decided, or read on
            // (returning no bytes would mean end of stream).
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AnyAuthority<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<S: tonic::transport::server::Connected> tonic::transport::server::Connected
    for AnyAuthority<S>
{
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// A [`Listener`](super::Listener) whose connections are [`AnyAuthority`]:
/// `serve_http2_graceful(AnyAuthorityListener::new(listener), …)`.
#[derive(Debug)]
pub struct AnyAuthorityListener<L>(L);

impl<L> AnyAuthorityListener<L> {
    /// Wraps `listener`.
    pub fn new(listener: L) -> Self {
        Self(listener)
    }

    /// The wrapped listener.
    pub fn get_ref(&self) -> &L {
        &self.0
    }
}

impl<L: super::Listener> super::Listener for AnyAuthorityListener<L> {
    type Io = AnyAuthority<L::Io>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (io, peer) = self.0.accept().await?;
        Ok((AnyAuthority::new(io), peer))
    }
}
