//! One balancer shared by every connection and retry of a route, and the
//! helper that sends through any attempt-returning service.

use super::{Attempt, Balance, EndpointService};
use crate::proxy::body::Buffered;
use crate::sync::lock;
use http::Request;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

/// A balancer shared by every connection and retry of one sidecar route.
/// Picking holds the lock only synchronously; the attempt runs unlocked.
pub struct SharedBalance<S> {
    inner: Arc<Mutex<Balance<S>>>,
}

impl<S> Clone for SharedBalance<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S> SharedBalance<S> {
    /// Shares `balance`.
    pub fn new(balance: Balance<S>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(balance)),
        }
    }
}

impl<S: EndpointService> Service<Request<Buffered>> for SharedBalance<S> {
    type Response = Attempt;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Attempt, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let Some(timeout) = lock(&self.inner).fail_fast_wait() else {
            return lock(&self.inner).call(request);
        };
        // Linkerd queues the request until an endpoint is ready or the
        // fail-fast timeout passes; availability is re-checked every
        // `FAIL_FAST_POLL` of (simulated) time.
        let inner = self.inner.clone();
        Box::pin(async move {
            let deadline = Instant::now() + timeout;
            loop {
                if lock(&inner).ready_now() {
                    break;
                }
                let now = Instant::now();
                if now >= deadline {
                    lock(&inner).enter_fail_fast();
                    break;
                }
                tokio::time::sleep(FAIL_FAST_POLL.min(deadline - now)).await;
            }
            let call = lock(&inner).call(request);
            call.await
        })
    }
}

/// How often a request waiting out Linkerd's fail-fast timeout re-checks
/// for an available endpoint (a modelling granularity: linkerd2-proxy is
/// woken by the balancer becoming ready).
pub const FAIL_FAST_POLL: Duration = Duration::from_millis(5);

/// Sends `request` through `service` once it is ready.
pub async fn send<S>(service: &mut S, request: Request<Buffered>) -> Attempt
where
    S: Service<Request<Buffered>, Response = Attempt, Error = Infallible>,
{
    match service.ready().await {
        Ok(s) => match s.call(request).await {
            Ok(a) => a,
            Err(never) => match never {},
        },
        Err(never) => match never {},
    }
}

// === Linkerd's fail-fast queue, on the balancer ===

impl<S: EndpointService> Balance<S> {
    /// Whether some endpoint may take a request now (applies discovery;
    /// draws nothing from the RNG). Clears the fail-fast state when one can.
    pub fn ready_now(&mut self) -> bool {
        self.refresh(false);
        let ready = !self.candidates(&[], Instant::now()).is_empty();
        if ready {
            self.failing_fast = false;
        }
        ready
    }

    /// How long a request that finds no endpoint should wait for one:
    /// `None` to go ahead now (an endpoint is ready, there is no fail-fast
    /// timeout, or the balancer is in fail-fast).
    pub fn fail_fast_wait(&mut self) -> Option<std::time::Duration> {
        let timeout = self.config.fail_fast_timeout?;
        if self.ready_now() || self.failing_fast {
            return None;
        }
        Some(timeout)
    }

    /// A fail-fast wait ended without an endpoint: fail at once until one
    /// is available.
    pub fn enter_fail_fast(&mut self) {
        self.failing_fast = true;
    }
}
