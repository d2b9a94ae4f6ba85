//! Message bodies: buffered when small, streamed when large.
//!
//! A unary gRPC message is small, and a proxy that retries must be able to
//! send the request again and must see the response's `grpc-status` (in the
//! trailers) before deciding anything. So the sidecar reads each body up to
//! [`REPLAY_BUFFER_CAP`] bytes: a body that ends within it is held whole
//! (it can be sent again, and its trailers classified), exactly as before.
//!
//! A body longer than the cap is streamed: the proxy keeps the bytes it has
//! read (at most the cap plus one frame) and forwards the rest as it
//! arrives, so memory does not grow with body size (defect N18: four
//! concurrent 100 MB request bodies took `meshsim proxy` from 13 MB to
//! 734 MB of RSS, kept after the requests ended). This is linkerd2-proxy's
//! `ReplayBody` rule (`linkerd/http/retry/src/replay.rs`): a body larger
//! than its cap is not kept for a retry, and a request whose body was
//! streamed is not retried; a re-dispatch of a request whose body no
//! attempt has started reading still goes. A streamed response is
//! classified by its headers (its trailers pass through to the client
//! unread): see [`Buffered::is_complete`].

use crate::sync::lock;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Most bytes of a body the proxy holds so that it can be sent again:
/// linkerd2-proxy's retry buffer limit, "Allow buffering requests up to
/// 64 kb", `const MAX_BUFFERED_BYTES: usize = 64 * 1024`
/// (linkerd/linkerd2-proxy `linkerd/app/core/src/retry.rs`, passed to
/// `ReplayBody::new`; bodies past it are "discarded after reaching maximum
/// buffered bytes limit" and not retried, `linkerd/http/retry/src/replay.rs`).
pub const REPLAY_BUFFER_CAP: usize = 64 * 1024;

/// A boxed body error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A second attempt polled a streamed body that the first attempt already
/// read from: the body cannot be replayed.
#[derive(Debug, thiserror::Error)]
#[error("body longer than the replay buffer ({REPLAY_BUFFER_CAP} bytes) already sent once")]
pub struct Capped;

/// The unread rest of a streamed body, and what must live as long as it
/// (the endpoint's stream slot).
struct Rest {
    body: BoxBody<Bytes, BoxError>,
    _hold: Option<Box<dyn Send + Sync>>,
}

/// A message body: whole ([`Buffered::new`], or one read within
/// [`REPLAY_BUFFER_CAP`]) or its first bytes plus a streamed rest.
///
/// Clones share a streamed rest: the first clone to poll it takes it, and
/// any other clone that polls afterwards fails with [`Capped`].
#[derive(Default)]
pub struct Buffered {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
    /// A streamed rest not yet taken by any clone.
    shared: Option<Arc<Mutex<Option<Rest>>>>,
    /// The streamed rest, taken by this clone.
    owned: Option<Mutex<Rest>>,
}

impl Clone for Buffered {
    fn clone(&self) -> Self {
        Self {
            data: self.data.clone(),
            trailers: self.trailers.clone(),
            shared: self.shared.clone(),
            owned: None,
        }
    }
}

impl std::fmt::Debug for Buffered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffered")
            .field("data", &self.data.as_ref().map(Bytes::len))
            .field("trailers", &self.trailers)
            .field("streamed", &!self.is_complete())
            .finish()
    }
}

impl Buffered {
    /// A body from its parts.
    pub fn new(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        Self {
            data: (!data.is_empty()).then_some(data),
            trailers,
            shared: None,
            owned: None,
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads a whole body into memory, however long (tests and callers
    /// that need the whole message; the proxy path uses [`Buffered::read`]).
    pub async fn collect<B>(body: B) -> Result<Self, B::Error>
    where
        B: Body<Data = Bytes>,
    {
        let collected = body.collect().await?;
        let trailers = collected.trailers().cloned();
        Ok(Self::new(collected.to_bytes(), trailers))
    }

    /// Reads `body` up to `cap` bytes: whole if it ends within them,
    /// otherwise the bytes read so far followed by the rest, streamed.
    pub async fn read<B>(mut body: B, cap: usize) -> Result<Self, B::Error>
    where
        B: Body<Data = Bytes> + Unpin + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let mut data: Option<Bytes> = None;
        let mut joined: Option<BytesMut> = None;
        let mut trailers: Option<HeaderMap> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            match frame.into_data() {
                Ok(chunk) => {
                    // One frame is kept as it came; more are joined.
                    match (&mut joined, data.take()) {
                        (Some(joined), _) => joined.extend_from_slice(&chunk),
                        (None, None) => data = Some(chunk),
                        (None, Some(first)) => {
                            let mut both = BytesMut::with_capacity(first.len() + chunk.len());
                            both.extend_from_slice(&first);
                            both.extend_from_slice(&chunk);
                            joined = Some(both);
                        }
                    }
                    let held = joined.as_ref().map_or(0, BytesMut::len)
                        + data.as_ref().map_or(0, Bytes::len);
                    if held > cap {
                        let prefix =
                            joined.map_or_else(|| data.unwrap_or_default(), BytesMut::freeze);
                        let rest = Rest {
                            body: BoxBody::new(body.map_err(Into::into)),
                            _hold: None,
                        };
                        return Ok(Self {
                            data: Some(prefix),
                            trailers: None,
                            shared: Some(Arc::new(Mutex::new(Some(rest)))),
                            owned: None,
                        });
                    }
                }
                Err(frame) => {
                    if let Ok(more) = frame.into_trailers() {
                        match &mut trailers {
                            Some(all) => all.extend(more),
                            None => trailers = Some(more),
                        }
                    }
                }
            }
            // A body that says it has ended is not polled again for the
            // `None` that would say so (an HTTP/2 stream ends with its
            // last DATA or trailers frame): one poll of the stream less
            // per message.
            if body.is_end_stream() {
                break;
            }
        }
        let data = joined.map_or_else(|| data.unwrap_or_default(), BytesMut::freeze);
        Ok(Self::new(data, trailers))
    }

    /// Keeps `guard` alive until a streamed rest ends (or is dropped); a
    /// whole body drops it at once.
    pub fn holding(self, guard: impl Send + Sync + 'static) -> Self {
        if let Some(shared) = &self.shared
            && let Some(rest) = lock(shared).as_mut()
        {
            rest._hold = Some(Box::new(guard));
        }
        self
    }

    /// The trailers, if any (a streamed body's are not read here).
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// The whole body is held: it can be sent again, and its trailers are
    /// known. False for a body longer than the cap it was read with.
    pub fn is_complete(&self) -> bool {
        self.shared.is_none() && self.owned.is_none()
    }

    /// This body can still be sent whole: it is complete, or no clone has
    /// started reading its streamed rest (a request re-dispatched after
    /// an endpoint refused it unread).
    pub fn can_resend(&self) -> bool {
        match &self.shared {
            None => self.owned.is_none(),
            Some(shared) => self.owned.is_none() && lock(shared).is_some(),
        }
    }
}

impl Body for Buffered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(shared) = &this.shared
            && this.owned.is_none()
        {
            let taken = lock(shared).take();
            match taken {
                Some(rest) => this.owned = Some(Mutex::new(rest)),
                None => {
                    this.shared = None;
                    return Poll::Ready(Some(Err(Capped.into())));
                }
            }
        }
        if let Some(owned) = &mut this.owned {
            let rest = owned
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            return match Pin::new(&mut rest.body).poll_frame(cx) {
                Poll::Ready(None) => {
                    this.owned = None;
                    this.shared = None;
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Err(e))) => {
                    this.owned = None;
                    this.shared = None;
                    Poll::Ready(Some(Err(e)))
                }
                other => other,
            };
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none() && self.is_complete()
    }

    /// At least the bytes held; never exact. hyper adds a `content-length`
    /// header to any message whose body's size is exact, so an exact hint
    /// made every hop add one the sender had not sent (an allocation, a
    /// header to encode, and one for the next hop to parse, on every
    /// request and response); a proxy forwards the headers it was given.
    fn size_hint(&self) -> SizeHint {
        let held = self.data.as_ref().map_or(0, |d| d.len() as u64);
        let mut hint = SizeHint::default();
        hint.set_lower(held);
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    #[tokio::test]
    async fn round_trips_data_and_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let body = Buffered::new(Bytes::from_static(b"abc"), Some(trailers.clone()));
        let again = Buffered::read(body, REPLAY_BUFFER_CAP)
            .await
            .expect("buffered");
        assert!(again.is_complete());
        assert_eq!(again.trailers(), Some(&trailers));
        let collected = again.collect().await.expect("buffered");
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"abc"));
    }

    type Chunks =
        StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, std::io::Error>>>>;

    fn chunks(n: usize, size: usize) -> Chunks {
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = (0..n)
            .map(|i| Ok(Frame::data(Bytes::from(vec![i as u8; size]))))
            .collect();
        StreamBody::new(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_body_within_the_cap_is_held_whole_and_replays() {
        let body = Buffered::read(chunks(4, 1000), REPLAY_BUFFER_CAP)
            .await
            .expect("read");
        assert!(body.is_complete() && body.can_resend());
        let first = body.clone().collect().await.expect("first").to_bytes();
        let second = body.collect().await.expect("second").to_bytes();
        assert_eq!(first.len(), 4000);
        assert_eq!(first, second);
    }

    #[tokio::test]
    async fn a_body_past_the_cap_streams_once_and_is_not_replayed() {
        let body = Buffered::read(chunks(100, 16 * 1024), REPLAY_BUFFER_CAP)
            .await
            .expect("read");
        assert!(!body.is_complete());
        assert!(body.size_hint().lower() <= (REPLAY_BUFFER_CAP + 16 * 1024) as u64);
        let retry = body.clone();
        assert!(retry.can_resend());
        let all = body.collect().await.expect("streamed").to_bytes();
        assert_eq!(all.len(), 100 * 16 * 1024);
        assert_eq!(all[all.len() - 1], 99);
        assert!(!retry.can_resend());
        assert!(retry.collect().await.is_err());
    }

    #[tokio::test]
    async fn a_whole_body_drops_its_guard_a_streamed_one_keeps_it() {
        let guard = Arc::new(());
        let small = Buffered::read(Full::new(Bytes::from_static(b"x")), REPLAY_BUFFER_CAP)
            .await
            .expect("read")
            .holding(guard.clone());
        assert_eq!(Arc::strong_count(&guard), 1);
        drop(small);
        let big = Buffered::read(chunks(10, 16 * 1024), REPLAY_BUFFER_CAP)
            .await
            .expect("read")
            .holding(guard.clone());
        assert_eq!(Arc::strong_count(&guard), 2);
        big.collect().await.expect("streamed");
        assert_eq!(Arc::strong_count(&guard), 1);
    }
}
