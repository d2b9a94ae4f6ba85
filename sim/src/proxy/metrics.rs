//! Per-endpoint metrics the sidecar keeps, as a real proxy exports them.
//!
//! One writer: every count and latency goes into a sidecar's
//! [`ProxyMetrics`] through its [`Recorder`], a handle with one method per
//! event, so what the report shows is defined here, next to the fields,
//! and no other module locks the metrics to change them. The layers that
//! see an event hold a `Recorder` and call it: [`MetricsLayer`], the
//! outermost layer of each endpoint's stack, records every attempt the
//! balancer sends there and how it ended, after every policy below it has
//! had its say; the route's retry layer records requests, attempts,
//! retries and refusals; the outbound service, whole-request timeouts; the
//! shared balancer, waits for a ready endpoint; each endpoint connection,
//! waits for the connection and a stream slot. Readers take a snapshot
//! ([`Recorder::snapshot`]) or lock the shared value to read it.

use super::balance::IsRetry;
use super::body::Buffered;
use super::classify::{Classified, Outcome, outcome_of};
use crate::sync::lock;
use http::Request;
use loadgen::LatencyRecorder;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::time::Instant;
use tower::load::Load;
use tower::{Layer, Service};

/// What one endpoint saw from this proxy.
#[derive(Debug, Clone, Default)]
pub struct EndpointMetrics {
    /// Attempts sent to the endpoint (first tries and retries).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Attempts answered `OK`.
    pub successes: u64,
    /// Everything else, by outcome name (`NOT_FOUND`, `CONNECT_FAILED`, …).
    pub failures: BTreeMap<String, u64>,
    /// Attempt latency.
    pub latency: LatencyRecorder,
    /// Times failure accrual or outlier detection took it out of service.
    pub ejections: u64,
}

impl EndpointMetrics {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &EndpointMetrics) {
        self.requests += other.requests;
        self.retries += other.retries;
        self.successes += other.successes;
        for (k, v) in &other.failures {
            *self.failures.entry(k.clone()).or_insert(0) += v;
        }
        self.latency.merge(&other.latency);
        self.ejections += other.ejections;
    }
}

/// Request-level counters of one sidecar.
#[derive(Debug, Clone, Default)]
pub struct ProxyMetrics {
    /// Requests the application sent through the sidecar.
    pub requests: u64,
    /// Attempts made for them (requests + retries).
    pub attempts: u64,
    /// Retries refused because the budget (or the retry circuit breaker)
    /// was exhausted.
    pub retries_refused: u64,
    /// Requests that hit the overall request timeout.
    pub timeouts: u64,
    /// Requests failed because no endpoint was available.
    pub no_endpoints: u64,
    /// Never-sent attempts sent to another endpoint without counting as a
    /// retry (`sidecar:<policy>` strategies).
    pub redispatched: u64,
    /// Per endpoint, by pod name.
    pub endpoints: BTreeMap<String, EndpointMetrics>,
    /// Retries sent, by whole millisecond of `clock` (when a clock is set),
    /// for the report's time series at any bucket size.
    pub retries_by_ms: BTreeMap<u64, u64>,
    /// Where "now" comes from for `retries_by_ms`: in the simulator,
    /// `turmoil::sim_elapsed`, shared by every host.
    pub clock: Option<fn() -> Option<std::time::Duration>>,
    /// How long each request waited in the balancer's fail-fast queue for
    /// a ready endpoint (profiles with such a queue only; 0 when one was
    /// ready at once).
    pub ready_wait: LatencyRecorder,
    /// How long each attempt waited for its endpoint's connection (to be
    /// set up, or for another attempt setting it up).
    pub connect_wait: LatencyRecorder,
    /// How long each attempt waited for a stream slot on its endpoint's
    /// connection (only when the endpoints advertise a stream limit).
    pub stream_wait: LatencyRecorder,
}

impl ProxyMetrics {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ProxyMetrics) {
        self.requests += other.requests;
        self.attempts += other.attempts;
        self.retries_refused += other.retries_refused;
        self.timeouts += other.timeouts;
        self.no_endpoints += other.no_endpoints;
        self.redispatched += other.redispatched;
        for (k, v) in &other.endpoints {
            self.endpoints.entry(k.clone()).or_default().merge(v);
        }
        for (t, n) in &other.retries_by_ms {
            *self.retries_by_ms.entry(*t).or_insert(0) += n;
        }
        self.ready_wait.merge(&other.ready_wait);
        self.connect_wait.merge(&other.connect_wait);
        self.stream_wait.merge(&other.stream_wait);
    }

    /// These metrics with `retries_by_ms` counted from `origin` (the
    /// clock reading at which the workload started) instead of the clock's
    /// zero; a retry before it counts at 0.
    pub fn since(&self, origin: std::time::Duration) -> ProxyMetrics {
        let shift = u64::try_from(origin.as_millis()).unwrap_or(u64::MAX);
        let mut shifted = BTreeMap::new();
        for (ms, n) in &self.retries_by_ms {
            *shifted.entry(ms.saturating_sub(shift)).or_insert(0) += n;
        }
        ProxyMetrics {
            retries_by_ms: shifted,
            ..self.clone()
        }
    }

    /// Counts one retry at the clock's current millisecond.
    fn record_retry(&mut self) {
        if let Some(now) = self.clock.and_then(|clock| clock()) {
            let ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
            *self.retries_by_ms.entry(ms).or_insert(0) += 1;
        }
    }
}

/// The one writer of a sidecar's [`ProxyMetrics`] (see the module doc):
/// cheap to clone, one method per event. Each takes the lock once.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<ProxyMetrics>>);

impl From<Arc<Mutex<ProxyMetrics>>> for Recorder {
    fn from(metrics: Arc<Mutex<ProxyMetrics>>) -> Self {
        Self(metrics)
    }
}

impl Recorder {
    /// Records into `metrics` (shared with whoever reads them).
    pub fn new(metrics: Arc<Mutex<ProxyMetrics>>) -> Self {
        Self(metrics)
    }

    /// What has been recorded so far.
    pub fn snapshot(&self) -> ProxyMetrics {
        lock(&self.0).clone()
    }

    /// The application sent a request.
    pub fn request(&self) {
        lock(&self.0).requests += 1;
    }

    /// An attempt of a request went to the balancer.
    pub fn attempt(&self) {
        lock(&self.0).attempts += 1;
    }

    /// A request failed because no endpoint was available.
    pub fn no_endpoint(&self) {
        lock(&self.0).no_endpoints += 1;
    }

    /// A never-sent attempt went to another endpoint (not a retry).
    pub fn redispatched(&self) {
        lock(&self.0).redispatched += 1;
    }

    /// A retry was refused (budget or concurrent-retry breaker).
    pub fn retry_refused(&self) {
        lock(&self.0).retries_refused += 1;
    }

    /// A retry was sent (counted at the clock's millisecond).
    pub fn retry(&self) {
        lock(&self.0).record_retry();
    }

    /// A request hit the whole-request timeout.
    pub fn timeout(&self) {
        lock(&self.0).timeouts += 1;
    }

    /// A request waited `waited` in the balancer's fail-fast queue.
    pub fn ready_wait(&self, waited: std::time::Duration) {
        lock(&self.0).ready_wait.record(waited);
    }

    /// One attempt waited `connect` for the connection and, where the
    /// endpoints advertise a stream limit, `stream` for a slot (one lock
    /// per attempt: this is on every request's path).
    pub fn waits(&self, connect: std::time::Duration, stream: Option<std::time::Duration>) {
        let mut m = lock(&self.0);
        m.connect_wait.record(connect);
        if let Some(stream) = stream {
            m.stream_wait.record(stream);
        }
    }

    /// One attempt to `endpoint` ended as `outcome` after `latency`; the
    /// endpoint was ejected `ejections` times since the last one.
    fn endpoint_attempt(
        &self,
        endpoint: &str,
        is_retry: bool,
        outcome: Outcome,
        latency: std::time::Duration,
        ejections: u64,
    ) {
        let mut m = lock(&self.0);
        // Looked up by `&str`: the name is allocated once, with the
        // endpoint's first attempt, not on every attempt.
        if !m.endpoints.contains_key(endpoint) {
            m.endpoints
                .insert(endpoint.to_string(), EndpointMetrics::default());
        }
        let Some(e) = m.endpoints.get_mut(endpoint) else {
            return;
        };
        e.requests += 1;
        e.retries += u64::from(is_retry);
        if outcome == Outcome::Grpc(tonic::Code::Ok) {
            e.successes += 1;
        } else if let Some(n) = e.failures.get_mut(outcome.name()) {
            *n += 1;
        } else {
            e.failures.insert(outcome.name().to_string(), 1);
        }
        e.latency.record(latency);
        e.ejections += ejections;
    }
}

/// Times an endpoint was taken out of service, counted by the layers that
/// do it (failure accrual, outlier detection) and reported by
/// [`MetricsLayer`] with the attempt that caused it.
#[derive(Debug, Clone, Default)]
pub struct Ejections(Arc<AtomicU64>);

impl Ejections {
    /// Counts one ejection.
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The ejections counted since the last call.
    pub fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

/// Records every attempt to one endpoint into the sidecar's metrics.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    shared: Arc<Endpoint>,
}

/// What every attempt to one endpoint records into: resolved once, when
/// the endpoint's stack is built, and shared by its attempts (one
/// reference count a request, no name copied).
#[derive(Debug)]
struct Endpoint {
    metrics: Recorder,
    name: Box<str>,
    ejections: Ejections,
}

impl MetricsLayer {
    /// Records attempts to `endpoint` (a pod name) into `metrics`, with the
    /// ejections counted in `ejections`.
    pub fn new(metrics: Arc<Mutex<ProxyMetrics>>, endpoint: &str, ejections: Ejections) -> Self {
        Self {
            shared: Arc::new(Endpoint {
                metrics: Recorder::new(metrics),
                name: endpoint.into(),
                ejections,
            }),
        }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metered<S>;
    fn layer(&self, inner: S) -> Metered<S> {
        Metered {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`MetricsLayer`].
#[derive(Debug)]
pub struct Metered<S> {
    inner: S,
    layer: MetricsLayer,
}

super::available::pass_available!(Metered);

impl<S: Load> Load for Metered<S> {
    type Metric = S::Metric;
    fn load(&self) -> S::Metric {
        self.inner.load()
    }
}

impl<S> Service<Request<Buffered>> for Metered<S>
where
    S: Service<Request<Buffered>, Response = Classified, Error = Outcome>,
    S::Future: Send + Unpin + 'static,
{
    type Response = Classified;
    type Error = Outcome;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let is_retry = request.extensions().get::<IsRetry>().is_some();
        let start = Instant::now();
        MeteredFuture {
            call: self.inner.call(request),
            start,
            is_retry,
            endpoint: self.layer.shared.clone(),
        }
    }
}

/// An attempt through [`Metered`]: the inner attempt, recorded when it
/// ends. A plain struct over an `Unpin` inner future rather than a boxed
/// `async` block: no allocation and no virtual call per request.
#[derive(Debug)]
pub struct MeteredFuture<F> {
    call: F,
    start: Instant,
    is_retry: bool,
    endpoint: Arc<Endpoint>,
}

impl<F> Future for MeteredFuture<F>
where
    F: Future<Output = Result<Classified, Outcome>> + Unpin,
{
    type Output = Result<Classified, Outcome>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = std::task::ready!(Pin::new(&mut self.call).poll(cx));
        let latency = Instant::now().saturating_duration_since(self.start);
        let e = &self.endpoint;
        e.metrics.endpoint_attempt(
            &e.name,
            self.is_retry,
            outcome_of(&result),
            latency,
            e.ejections.take(),
        );
        Poll::Ready(result)
    }
}
