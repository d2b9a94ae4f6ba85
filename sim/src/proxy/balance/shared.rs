//! One balancer shared by every connection and retry of a route, and the
//! helper that sends through any attempt-returning service.

use super::balancer::AttemptFuture;
use super::{Attempt, Balance, EndpointService, NoEndpoint};
use crate::proxy::body::Buffered;
use crate::proxy::classify::{Classified, Outcome};
use crate::proxy::metrics::{ProxyMetrics, Recorder};
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
    /// Where the waits for a ready endpoint are recorded.
    metrics: Option<Recorder>,
}

impl<S> Clone for SharedBalance<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<S> SharedBalance<S> {
    /// Shares `balance`.
    pub fn new(balance: Balance<S>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(balance)),
            metrics: None,
        }
    }

    /// Applies every endpoint-set change as discovery delivers it, not
    /// only when the next request picks, so that new endpoints start
    /// connecting (eager mode) at once, as linkerd2-proxy's balancer does
    /// when its discovery stream yields (`linkerd/proxy/balance`,
    /// `discover`). The task ends with the route.
    pub fn watching_discovery(self) -> Self
    where
        S: EndpointService,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            return self;
        }
        let mut changes = lock(&self.inner).discovery.clone();
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let Some(inner) = weak.upgrade() else { break };
                lock(&inner).refresh(false);
            }
        });
        self
    }

    /// How many endpoints can take a request now, of how many.
    pub fn available(&self) -> (usize, usize)
    where
        S: EndpointService,
    {
        lock(&self.inner).available()
    }

    /// Records each request's wait for a ready endpoint (with a fail-fast
    /// queue only) into `metrics`.
    pub fn recording(mut self, metrics: Arc<Mutex<ProxyMetrics>>) -> Self {
        self.metrics = Some(Recorder::new(metrics));
        self
    }
}

impl<S: EndpointService> Service<Request<Buffered>> for SharedBalance<S> {
    type Response = Attempt;
    type Error = Infallible;
    type Future = SharedFuture<S::Future>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    /// Waits for a ready endpoint (with a fail-fast queue), then picks and
    /// sends. A request marked [`Repick`] is the same request again after
    /// an endpoint turned out not ready ([`super::super::retry`] re-picks,
    /// avoiding it): its wait is not recorded a second time.
    ///
    /// When an endpoint is ready (or there is no queue) the pick happens
    /// here and the attempt's own future is returned: the usual request
    /// allocates no future of its own. Only a request that must wait gets
    /// a boxed one. (The caller polls what `call` returns at once, in the
    /// same task, so picking here rather than at that first poll is the
    /// same instant and the same order of picks.)
    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let metrics = match request.extensions().get::<Repick>() {
            Some(_) => None,
            None => self.metrics.clone(),
        };
        let (wait, queued) = {
            let mut balance = lock(&self.inner);
            (
                balance.fail_fast_wait(),
                matches!(balance.config.no_endpoint, NoEndpoint::FailFast(_)),
            )
        };
        let Some(timeout) = wait else {
            if let (true, Some(metrics)) = (queued, &metrics) {
                metrics.ready_wait(Duration::ZERO);
            }
            return SharedFuture::Now(lock(&self.inner).call(request));
        };
        let inner = self.inner.clone();
        SharedFuture::Waiting(Box::pin(async move {
            let waited = wait_for_ready(&inner, timeout).await;
            if let Some(metrics) = &metrics {
                metrics.ready_wait(waited);
            }
            let call = lock(&inner).call(request);
            call.await
        }))
    }
}

/// An attempt through [`SharedBalance`]: the picked endpoint's attempt, or
/// (for a request that waits in the fail-fast queue first) a boxed wait
/// and pick.
pub enum SharedFuture<F> {
    /// Picked at once.
    Now(AttemptFuture<F>),
    /// Waiting for a ready endpoint, then picking.
    Waiting(Pin<Box<dyn Future<Output = Result<Attempt, Infallible>> + Send>>),
}

impl<F> Future for SharedFuture<F>
where
    F: Future<Output = Result<Classified, Outcome>> + Unpin,
{
    type Output = Result<Attempt, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            SharedFuture::Now(attempt) => Pin::new(attempt).poll(cx),
            SharedFuture::Waiting(waiting) => waiting.as_mut().poll(cx),
        }
    }
}

/// Request extension: this attempt re-picks after the endpoint picked for
/// it turned out not ready (its connection closed just before the request
/// was written), as tower's balancer picks again when the endpoint it
/// picked fails `poll_ready`.
#[derive(Debug, Clone, Copy)]
pub struct Repick;

/// How many times one request is re-picked after endpoints that turned out
/// not ready (bounded, so that a request cannot circle while every
/// connection closes).
pub const MAX_REPICKS: usize = 4;

/// Waits in the balancer's fail-fast queue until an endpoint is ready or
/// `timeout` passes (then the balancer sheds load); how long it waited.
/// For a request [`Balance::fail_fast_wait`] told to wait.
///
/// Linkerd queues the request until an endpoint is ready or the fail-fast
/// timeout passes. It goes as soon as an endpoint's connection notifies
/// readiness; other changes of availability (a breaker closing, discovery)
/// are re-checked every [`FAIL_FAST_POLL`] of (simulated) time.
async fn wait_for_ready<S: EndpointService>(
    inner: &Arc<Mutex<Balance<S>>>,
    timeout: Duration,
) -> Duration {
    let asked = Instant::now();
    let deadline = asked + timeout;
    let ready = lock(inner).ready.clone();
    loop {
        let notified = ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if lock(inner).ready_now() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            lock(inner).enter_fail_fast();
            break;
        }
        let poll = tokio::time::sleep(FAIL_FAST_POLL.min(deadline - now));
        tokio::select! {
            biased;
            () = &mut notified => {}
            () = poll => {}
        }
    }
    asked.elapsed()
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
        let ready = self.any_candidate(Instant::now());
        if ready {
            self.failing_fast = false;
        }
        ready
    }

    /// How long a request that finds no endpoint should wait for one:
    /// `None` to go ahead now (an endpoint is ready, there is no fail-fast
    /// timeout, or the balancer is in fail-fast).
    pub fn fail_fast_wait(&mut self) -> Option<std::time::Duration> {
        let NoEndpoint::FailFast(timeout) = self.config.no_endpoint else {
            return None;
        };
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
