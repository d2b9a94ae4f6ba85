//! Load measurement: how busy an endpoint is, for balancers that compare.
//!
//! A balancer that only counts (round robin, random) needs no load; the
//! power-of-two-choices balancers compare two endpoints by their load: the
//! number of requests in flight (Envoy's least-request), or the peak-EWMA
//! cost (Linkerd's default), which also punishes an endpoint whose latency
//! rises. [`MeasureLayer`] wraps each endpoint, counts its requests in
//! flight, feeds each attempt's round-trip time to the estimator, and
//! answers tower's [`Load`] trait.
//!
//! Why not `tower::load::{PendingRequests, PeakEwma}`: the measure is the
//! same (our [`PeakEwma`] follows tower's formula), but tower's handle
//! records a round trip when a request is *dropped* as well as when it
//! completes, so a caller's give-up (a request timeout) would count as a
//! round trip of that length; here only attempts that finish count. tower's
//! cost type is also opaque, while reports and tests read the number.

pub mod orca;
pub mod peak_ewma;

pub use orca::{EndpointWeight, OrcaConfig};
pub use peak_ewma::PeakEwma;

use super::body::Buffered;
use super::classify::Classified;
use crate::sync::lock;
use http::Request;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use stockdata::orca::OrcaLoadReport;
use tokio::time::Instant;
use tower::load::Load;
use tower::{Layer, Service};

/// Which load a P2C balancer compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadMetric {
    /// Requests in flight to the endpoint (Envoy `LEAST_REQUEST`).
    PendingRequests,
    /// Peak-EWMA round-trip time × (requests in flight + 1) (Linkerd).
    PeakEwma {
        /// RTT assumed for a new endpoint.
        default_rtt: Duration,
        /// EWMA decay time constant.
        decay: Duration,
    },
    /// The endpoint's weight from its ORCA load reports (gRPC
    /// `weighted_round_robin`): higher is better, 0 unknown.
    Orca(OrcaConfig),
}

/// Measures each endpoint's load by `metric`.
#[derive(Debug, Clone, Copy)]
pub struct MeasureLayer {
    metric: LoadMetric,
}

impl MeasureLayer {
    /// Measures by `metric`.
    pub fn new(metric: LoadMetric) -> Self {
        Self { metric }
    }
}

impl<S> Layer<S> for MeasureLayer {
    type Service = Measured<S>;
    fn layer(&self, inner: S) -> Measured<S> {
        let estimate = match self.metric {
            LoadMetric::PendingRequests => Estimate::Pending,
            LoadMetric::PeakEwma { default_rtt, decay } => {
                Estimate::Ewma(PeakEwma::new(default_rtt, decay, Instant::now()))
            }
            LoadMetric::Orca(config) => Estimate::Orca(EndpointWeight::new(config)),
        };
        Measured {
            inner,
            state: Arc::new(Mutex::new(State {
                pending: 0,
                estimate,
            })),
        }
    }
}

#[derive(Debug)]
struct State {
    pending: usize,
    estimate: Estimate,
}

/// What the load is computed from, besides requests in flight.
#[derive(Debug)]
enum Estimate {
    /// Nothing: the load is the requests in flight.
    Pending,
    /// Round-trip times.
    Ewma(PeakEwma),
    /// The endpoint's ORCA reports.
    Orca(EndpointWeight),
}

/// An endpoint whose load is measured; see [`MeasureLayer`].
#[derive(Debug)]
pub struct Measured<S> {
    inner: S,
    state: Arc<Mutex<State>>,
}

impl<S> Measured<S> {
    /// Requests in flight.
    pub fn pending(&self) -> usize {
        lock(&self.state).pending
    }
}

/// Decrements `pending` however the attempt ends, even if the caller drops
/// it (an overall request timeout).
struct PendingGuard(Option<Arc<Mutex<State>>>);

impl PendingGuard {
    /// The attempt ended at `now` after starting at `start` with `result`:
    /// one lock takes it out of `pending` and feeds the estimate.
    fn finish<E>(&mut self, start: Instant, result: &Result<Classified, E>) {
        let Some(state) = self.0.take() else { return };
        let now = Instant::now();
        let mut s = lock(&state);
        s.pending = s.pending.saturating_sub(1);
        match (&mut s.estimate, result) {
            (Estimate::Pending, _) => {}
            (Estimate::Ewma(ewma), _) => {
                ewma.observe(now.saturating_duration_since(start), now);
            }
            (Estimate::Orca(orca), Ok(answer)) => {
                let r = &answer.response;
                let report = r
                    .body()
                    .trailers()
                    .and_then(OrcaLoadReport::from_headers)
                    .or_else(|| OrcaLoadReport::from_headers(r.headers()));
                if let Some(report) = report {
                    orca.on_report(&report, now);
                }
            }
            (Estimate::Orca(_), Err(_)) => {}
        }
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            let mut s = lock(&state);
            s.pending = s.pending.saturating_sub(1);
        }
    }
}

impl<S> Load for Measured<S> {
    type Metric = f64;

    /// Requests in flight, the peak-EWMA cost, or the ORCA weight. Reading
    /// the cost persists the estimate's decay (as `tower::load::PeakEwma`
    /// does).
    fn load(&self) -> f64 {
        let mut s = lock(&self.state);
        let pending = s.pending;
        match &mut s.estimate {
            Estimate::Pending => pending as f64,
            Estimate::Ewma(ewma) => ewma.cost(pending, Instant::now()),
            Estimate::Orca(orca) => orca.weight(Instant::now()),
        }
    }
}

crate::proxy::available::pass_available!(Measured);

impl<S> Service<Request<Buffered>> for Measured<S>
where
    S: Service<Request<Buffered>, Response = Classified>,
    S::Future: Send + Unpin + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MeasuredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let start = Instant::now();
        lock(&self.state).pending += 1;
        MeasuredFuture {
            guard: PendingGuard(Some(self.state.clone())),
            call: self.inner.call(request),
            start,
        }
    }
}

/// An attempt through [`Measured`]: counted in flight until it ends (or
/// is dropped), then fed to the estimate. A plain struct over an `Unpin`
/// inner future rather than a boxed `async` block.
pub struct MeasuredFuture<F> {
    call: F,
    start: Instant,
    guard: PendingGuard,
}

impl<F, E> Future for MeasuredFuture<F>
where
    F: Future<Output = Result<Classified, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let result = std::task::ready!(Pin::new(&mut self.call).poll(cx));
        let start = self.start;
        self.guard.finish(start, &result);
        Poll::Ready(result)
    }
}
