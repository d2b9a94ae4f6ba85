//! One balancer shared by every connection and retry of a route, and the
//! helper that sends through any attempt-returning service.

use super::{Attempt, Balance, EndpointService};
use crate::lock;
use crate::proxy::body::Buffered;
use http::Request;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
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
        lock(&self.inner).call(request)
    }
}

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
