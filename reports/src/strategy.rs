//! One client strategy's part of the report: its calls, their latency and
//! everything measured alongside ([`StrategyReport`]).

use crate::{
    PageLoad, PageSummary, ProxyReport, ReplicaReport, ReplicaTotals, SeriesPoint, ServerWork,
    WorkloadReport,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one client strategy saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyReport {
    /// The strategy's canonical name, e.g. `cached-dns`.
    pub name: String,
    /// Call outcomes.
    pub requests: Requests,
    /// Successful calls per StockData pod (every pod listed, 0 included).
    pub per_replica: BTreeMap<String, u64>,
    /// Latency of every call, as the application measured it (simulated time).
    pub latency_ms: Latency,
    /// Each page load, when the scenario asked for the detail
    /// (`report.page_detail`); `pages` summarises them either way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub page_loads: Vec<PageLoad>,
    /// The page loads in summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<PageSummary>,
    /// The measured window's length, ms: the workload's duration less its
    /// warmup, or the page schedule. 0 in reports from before it was kept.
    #[serde(default)]
    pub measured_ms: f64,
    /// Successful calls of the requests due in the measured window.
    #[serde(default)]
    pub measured_ok: u64,
    /// Width of the time series' buckets, ms (reports from before it was
    /// a setting have 1-second buckets).
    #[serde(default = "one_second_ms")]
    pub series_bucket_ms: f64,
    /// Page loads whose HTTP request to StockWeb itself failed (their calls
    /// are not in `requests`).
    #[serde(default)]
    pub failed_page_loads: u64,
    /// Simulated time the run took, in milliseconds.
    #[serde(default)]
    pub sim_time_ms: f64,
    /// Latency of successful calls per StockData pod (measured window).
    #[serde(default)]
    pub per_replica_latency_ms: BTreeMap<String, Latency>,
    /// Workload-level accounting and latency (page loads or single gets as
    /// the load generator saw them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadReport>,
    /// The time series, by completion time, in buckets of
    /// `series_bucket_ms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<SeriesPoint>,
    /// The sidecar's resolved settings (sidecar strategies only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// What the sidecars measured (sidecar strategies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyReport>,
    /// Whole latency distributions (see [`hist`](crate::hist)).
    #[serde(default)]
    pub histograms: Histograms,
    /// Where requests waited at a limit before reaching a replica, by hop:
    /// `browser_connections` (the open loop's `connections`),
    /// `app_streams` (the app's connection, at its peer's HTTP/2 stream
    /// limit), `sidecar_ready` (a sidecar's fail-fast queue, waiting for a
    /// ready endpoint: Linkerd and `sidecar:*`), `sidecar_streams` (the sidecar's connection to a replica, at
    /// the replica's stream limit) and `sidecar_connect` (waiting for that
    /// connection to be set up).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub waits: BTreeMap<String, HopWait>,
    /// Per StockData pod: its queue (waiting for a worker slot) vs its
    /// service time, as the replica measured them over the whole run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replicas: BTreeMap<String, ReplicaReport>,
}

/// How long requests waited at one limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopWait {
    /// The limit, e.g. `200 streams per connection` or `unlimited`.
    pub limit: String,
    /// Requests that passed this point.
    pub requests: u64,
    /// Of which had to wait.
    pub waited: u64,
    /// The wait, over every request that passed (0 for those that did not
    /// wait), ms.
    pub wait_ms: Latency,
}

impl HopWait {
    /// Share of requests that waited, in percent.
    pub fn waited_pct(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.waited as f64 * 100.0 / self.requests as f64
        }
    }
}

/// Latency histograms of one strategy, each base64 of HdrHistogram's V2
/// DEFLATE encoding, recorded in µs (empty string: nothing recorded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histograms {
    /// Every call in the measured window (the distribution behind
    /// `latency_ms`).
    #[serde(default)]
    pub calls: String,
    /// Workload requests in the measured window, from when each was due
    /// (behind `workload.latency_ms`).
    #[serde(default)]
    pub workload: String,
}

/// Call counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    /// Calls issued by the application (counted in StockWeb as it makes
    /// them): `ok` + `errors` + `unanswered`.
    pub sent: u64,
    /// Calls answered `OK`.
    pub ok: u64,
    /// Failed calls by gRPC code name (`NOT_FOUND`, `UNAVAILABLE`, …).
    pub errors: BTreeMap<String, u64>,
    /// Calls of page loads (or `get`s) that failed or were still in flight
    /// at the end: issued, but their outcome never reached the browser.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unanswered: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A latency distribution in milliseconds (HdrHistogram, 3 significant
/// digits, recorded in microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Number of samples.
    #[serde(default)]
    pub count: u64,
    /// Arithmetic mean.
    #[serde(default)]
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

fn one_second_ms() -> f64 {
    1000.0
}

// === impl StrategyReport ===

impl StrategyReport {
    /// Every replica of this strategy's run taken together.
    pub fn replica_totals(&self) -> ReplicaTotals {
        let mut t = ReplicaTotals::default();
        for r in self.replicas.values() {
            let n = r.requests as f64;
            t.add(ReplicaTotals {
                requests: r.requests,
                queue_ms: r.queue_wait_ms.mean * n,
                service_ms: r.service_ms.mean * n,
            });
        }
        t
    }

    /// What every replica of this run paid, added up.
    pub fn server_work(&self) -> ServerWork {
        let mut w = ServerWork::default();
        for r in self.replicas.values() {
            w.add(&r.work);
        }
        w
    }

    /// Page loads whose successful calls all came from one replica.
    pub fn pinned_page_loads(&self) -> usize {
        match (&self.pages, self.page_loads.is_empty()) {
            (Some(p), true) => p.pinned as usize,
            _ => PageSummary::of(&self.page_loads).pinned as usize,
        }
    }

    /// Page loads in the report (detailed or summarised).
    pub fn page_load_count(&self) -> usize {
        match (&self.pages, self.page_loads.is_empty()) {
            (Some(p), true) => p.count as usize,
            _ => self.page_loads.len(),
        }
    }

    /// Successful calls per second over the measured window (over the
    /// whole run for reports without one).
    pub fn throughput_rps(&self) -> f64 {
        if self.measured_ms > 0.0 {
            self.measured_ok as f64 * 1000.0 / self.measured_ms
        } else if self.sim_time_ms > 0.0 {
            self.requests.ok as f64 * 1000.0 / self.sim_time_ms
        } else {
            0.0
        }
    }
}
