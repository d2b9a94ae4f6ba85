//! Per-endpoint metrics the sidecar keeps, as a real proxy exports them.

use loadgen::LatencyRecorder;
use std::collections::BTreeMap;

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
    /// Per endpoint, by pod name.
    pub endpoints: BTreeMap<String, EndpointMetrics>,
    /// Retries sent, by whole second of `clock` (when a clock is set).
    pub retries_by_second: BTreeMap<u64, u64>,
    /// Where "now" comes from for `retries_by_second`: in the simulator,
    /// `turmoil::sim_elapsed`, shared by every host.
    pub clock: Option<fn() -> Option<std::time::Duration>>,
}

impl ProxyMetrics {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ProxyMetrics) {
        self.requests += other.requests;
        self.attempts += other.attempts;
        self.retries_refused += other.retries_refused;
        self.timeouts += other.timeouts;
        self.no_endpoints += other.no_endpoints;
        for (k, v) in &other.endpoints {
            self.endpoints.entry(k.clone()).or_default().merge(v);
        }
        for (s, n) in &other.retries_by_second {
            *self.retries_by_second.entry(*s).or_insert(0) += n;
        }
    }

    /// Counts one retry at the clock's current second.
    pub fn record_retry(&mut self) {
        if let Some(now) = self.clock.and_then(|clock| clock()) {
            *self.retries_by_second.entry(now.as_secs()).or_insert(0) += 1;
        }
    }
}
