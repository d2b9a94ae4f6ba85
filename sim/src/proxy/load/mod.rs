//! Endpoint load metrics, for balancers that compare endpoints.
//!
//! A balancer that only counts (round robin, random) needs no load; the
//! power-of-two-choices balancers compare two endpoints by a [`Load`]: the
//! number of requests in flight (Envoy's least-request), or the peak-EWMA
//! cost (Linkerd's default), which also punishes an endpoint whose latency
//! rises.

pub mod peak_ewma;

pub use peak_ewma::PeakEwma;

/// Something with a comparable load; lower is better.
pub trait Load {
    /// The current load.
    fn load(&self) -> f64;
}

/// Which metric a P2C balancer compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMetric {
    /// Requests in flight to the endpoint (Envoy `LEAST_REQUEST`).
    PendingRequests,
    /// Peak-EWMA round-trip time × (requests in flight + 1) (Linkerd).
    PeakEwma,
}
