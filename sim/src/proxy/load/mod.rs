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
use super::gate::Available;
use crate::lock;
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
        let (ewma, orca) = match self.metric {
            LoadMetric::PendingRequests => (None, None),
            LoadMetric::PeakEwma { default_rtt, decay } => (
                Some(PeakEwma::new(default_rtt, decay, Instant::now())),
                None,
            ),
            LoadMetric::Orca(config) => (None, Some(EndpointWeight::new(config))),
        };
        Measured {
            inner,
            state: Arc::new(Mutex::new(State {
                pending: 0,
                ewma,
                orca,
            })),
        }
    }
}

#[derive(Debug)]
struct State {
    pending: usize,
    ewma: Option<PeakEwma>,
    orca: Option<EndpointWeight>,
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
struct PendingGuard(Arc<Mutex<State>>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let mut s = lock(&self.0);
        s.pending = s.pending.saturating_sub(1);
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
        if let Some(orca) = s.orca.as_mut() {
            return orca.weight(Instant::now());
        }
        match s.ewma.as_mut() {
            None => pending as f64,
            Some(ewma) => ewma.cost(pending, Instant::now()),
        }
    }
}

impl<S: Available> Available for Measured<S> {
    fn is_available(&self, now: Instant) -> bool {
        self.inner.is_available(now)
    }
}

impl<S> Service<Request<Buffered>> for Measured<S>
where
    S: Service<Request<Buffered>, Response = Classified>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let start = Instant::now();
        lock(&self.state).pending += 1;
        let guard = PendingGuard(self.state.clone());
        let call = self.inner.call(request);
        Box::pin(async move {
            let result = call.await;
            let state = guard.0.clone();
            drop(guard);
            let now = Instant::now();
            let mut s = lock(&state);
            if let Some(ewma) = s.ewma.as_mut() {
                ewma.observe(now.saturating_duration_since(start), now);
            }
            if let (Some(orca), Ok(answer)) = (s.orca.as_mut(), &result) {
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
            drop(s);
            result
        })
    }
}
