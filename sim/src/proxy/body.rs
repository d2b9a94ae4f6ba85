//! Buffered message bodies.
//!
//! A unary gRPC message is small, and a proxy that retries must be able to
//! send the request again and must see the response's `grpc-status` (in the
//! trailers) before deciding anything. So the sidecar buffers both, as
//! Linkerd does for retryable requests (it buffers up to 64 KiB).

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A fully buffered body: its data and its trailers.
#[derive(Debug, Clone, Default)]
pub struct Buffered {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Buffered {
    /// A body from its parts.
    pub fn new(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        Self {
            data: (!data.is_empty()).then_some(data),
            trailers,
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads a whole body into memory.
    pub async fn collect<B>(body: B) -> Result<Self, B::Error>
    where
        B: Body<Data = Bytes>,
    {
        let collected = body.collect().await?;
        let trailers = collected.trailers().cloned();
        Ok(Self::new(collected.to_bytes(), trailers))
    }

    /// The trailers, if any.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }
}

impl Body for Buffered {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_data_and_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let body = Buffered::new(Bytes::from_static(b"abc"), Some(trailers.clone()));
        let again = Buffered::collect(body).await.expect("infallible");
        assert_eq!(again.trailers(), Some(&trailers));
        let collected = again.collect().await.expect("infallible");
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"abc"));
    }
}
