//! The workload's side of a strategy's run: the load generator's
//! accounting, the time series and the page loads.

use crate::Latency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The workload as the load generator saw it. Every request issued is
/// accounted for: `issued = completed + failed + in_flight_at_end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadReport {
    /// `schedule` (the `[load]` page schedule), `open` or `closed`.
    pub model: String,
    /// `page` or `get`.
    pub target: String,
    /// Requests issued.
    pub issued: u64,
    /// Requests StockWeb answered (HTTP 200), whatever their calls did.
    pub completed: u64,
    /// Requests whose HTTP exchange with StockWeb failed.
    pub failed: u64,
    /// Requests still in flight when the run ended.
    pub in_flight_at_end: u64,
    /// Completed requests in the measured window (due after warm-up).
    pub measured: u64,
    /// Latency from when each request was due (open loop: corrected for
    /// coordinated omission).
    pub latency_ms: Latency,
    /// Latency from when each request was sent (what a naive generator
    /// would report).
    pub latency_uncorrected_ms: Latency,
}

/// One bucket of the run's time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// The whole second the bucket starts in (with 1-second buckets, the
    /// bucket itself: completions in `[second, second + 1)`).
    pub second: u64,
    /// When the bucket starts, ms: completions in `[start_ms, start_ms +
    /// series_bucket_ms)`. Absent in reports of schema 2 and before,
    /// whose buckets are the seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<f64>,
    /// Workload requests completed in this bucket.
    pub throughput: u64,
    /// Their median latency (corrected), ms.
    pub p50_ms: f64,
    /// Their 99th percentile latency (corrected), ms.
    pub p99_ms: f64,
    /// Calls completed in this bucket.
    pub calls: u64,
    /// Of which failed.
    pub call_errors: u64,
    /// call_errors / calls (0 when no calls).
    pub error_rate: f64,
    /// Retries the sidecars sent in this bucket.
    pub retries: u64,
}

/// The page loads of a run, summarised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PageSummary {
    /// Page loads that reached StockWeb.
    pub count: u64,
    /// Of which every successful call came from one replica.
    pub pinned: u64,
    /// Of which at least one call failed.
    pub with_errors: u64,
}

impl PageSummary {
    /// Summarises `pages`.
    pub fn of(pages: &[PageLoad]) -> Self {
        Self {
            count: pages.len() as u64,
            pinned: pages
                .iter()
                .filter(|p| p.per_replica.values().filter(|&&n| n > 0).count() == 1)
                .count() as u64,
            with_errors: pages.iter().filter(|p| !p.errors.is_empty()).count() as u64,
        }
    }
}

/// One page load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageLoad {
    /// 0-based index in the schedule.
    pub index: u64,
    /// The StockWeb pod that built the page.
    #[serde(default)]
    pub stockweb_pod: String,
    /// When the browser sent the page request, ms of simulated time.
    #[serde(default)]
    pub start_ms: f64,
    /// The page's whole fan-out as StockWeb measured it, ms.
    #[serde(default)]
    pub duration_ms: f64,
    /// Successful calls per StockData pod (pods with none left out).
    pub per_replica: BTreeMap<String, u64>,
    /// Failed calls by gRPC code name.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// Latency of this page's calls.
    pub latency_ms: Latency,
}
