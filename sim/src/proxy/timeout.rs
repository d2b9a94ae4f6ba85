//! Per-try timeout: give up on one attempt after a fixed time.
//!
//! Why: a request stuck on a slow or black-holed endpoint should fail in
//! time for a retry to go elsewhere (Envoy `per_try_timeout`, Linkerd
//! `timeout.linkerd.io/request` on each try). The attempt ends as
//! [`Outcome::Timeout`], which failure accrual and outlier detection count
//! against the endpoint and which idempotent routes retry.
//!
//! Why not `tower::timeout::Timeout`: its error is a boxed `Elapsed`, and
//! `ServiceBuilder::option_layer` needs both arms to share an error type, so
//! every layer above would downcast a `Box<dyn Error>` to learn what
//! happened; the policies here key off the typed [`Outcome`]. The timing is
//! the same: the deadline starts when the attempt is sent, and a response
//! ready at the deadline wins (the inner future is polled first).

use super::body::Buffered;
use super::classify::Outcome;
use http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

/// Ends each attempt after `limit` as [`Outcome::Timeout`].
#[derive(Debug, Clone, Copy)]
pub struct PerTryTimeoutLayer {
    limit: Duration,
}

impl PerTryTimeoutLayer {
    /// Attempts longer than `limit` fail.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for PerTryTimeoutLayer {
    type Service = PerTryTimeout<S>;
    fn layer(&self, inner: S) -> PerTryTimeout<S> {
        PerTryTimeout {
            inner,
            limit: self.limit,
        }
    }
}

/// See [`PerTryTimeoutLayer`].
#[derive(Debug, Clone)]
pub struct PerTryTimeout<S> {
    inner: S,
    limit: Duration,
}

super::available::pass_available!(PerTryTimeout);

impl<S> Service<Request<Buffered>> for PerTryTimeout<S>
where
    S: Service<Request<Buffered>, Response = Response<Buffered>, Error = Outcome>,
    S::Future: Send + 'static,
{
    type Response = Response<Buffered>;
    type Error = Outcome;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Buffered>, Outcome>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let call = self.inner.call(request);
        let limit = self.limit;
        Box::pin(async move {
            tokio::time::timeout(limit, call)
                .await
                .unwrap_or(Err(Outcome::Timeout))
        })
    }
}
