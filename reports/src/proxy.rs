//! What the sidecars of a strategy measured.

use crate::Latency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Request-level and per-endpoint counters of the sidecars of one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyReport {
    /// Requests the application sent through its sidecars.
    pub requests: u64,
    /// Attempts made for them (first tries and retries).
    pub attempts: u64,
    /// attempts / requests.
    pub retry_amplification: f64,
    /// Retries refused by the budget or the retry circuit breaker.
    pub retries_refused: u64,
    /// Requests that hit the overall request timeout.
    pub timeouts: u64,
    /// Requests failed at once because no endpoint was available.
    pub no_endpoints: u64,
    /// Never-sent attempts sent to another endpoint without counting as a
    /// retry (`sidecar:<policy>` strategies; absent when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redispatched: u64,
    /// Per endpoint (pod name).
    pub endpoints: BTreeMap<String, EndpointReport>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One endpoint as the sidecars saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointReport {
    /// Attempts sent to it.
    pub requests: u64,
    /// Of which retries.
    pub retries: u64,
    /// Attempts answered `OK`.
    pub successes: u64,
    /// Other outcomes by name.
    pub failures: BTreeMap<String, u64>,
    /// Times failure accrual or outlier detection took it out of service.
    pub ejections: u64,
    /// Attempt latency.
    pub latency_ms: Latency,
}
