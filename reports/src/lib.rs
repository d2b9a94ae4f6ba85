/*!
The meshsim report: what one scenario run measured, per client strategy.

[`Report`] is the `report.json` contract. Later work may add fields, never
rename these. Every map is a `BTreeMap` and floats are printed by
`serde_json`, so the same report always serialises to the same bytes.

```
use reports::{Report, SCHEMA_VERSION};
let report = Report::new("0.1.0", 42, "stockweb-demo", "ab12…", vec![]);
let bytes = report.to_json_bytes().expect("serialisable");
assert_eq!(Report::from_json_slice(&bytes).expect("parses").schema_version, SCHEMA_VERSION);
```
*/
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod charts;
pub mod compare;
pub mod compare_html;
pub mod fidelity;
pub mod hist;
pub mod html;
pub mod output;
mod replica;
pub mod summary;
pub mod sweep;
pub mod table;

use serde::{Deserialize, Serialize};

pub use replica::{ReplicaReport, ReplicaTotals, ServerWork};
use std::collections::BTreeMap;

/// The version of the `report.json` schema this crate writes.
///
/// 2 added `scenario.source` and each strategy's `histograms`; version 1
/// files still read (without them, charts that need whole distributions
/// are left out). 3 added `series_bucket_ms` and `series[].start_ms`
/// (buckets other than seconds), `measured_ms`/`measured_ok` (throughput
/// over the measured window), `pages` (page loads summarised;
/// `page_loads` only on request) and `replicas[].work` (what the servers
/// paid); version 2 files still read.
pub const SCHEMA_VERSION: u32 = 3;

/// The layout of `report.json`, `sweep.json` and `fidelity.json`: pretty,
/// with a trailing newline (stable bytes, clean diffs of baselines).
pub fn json_bytes<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A whole run: one scenario, one seed, every strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] at the time of writing.
    pub schema_version: u32,
    /// The meshsim version that produced the report.
    pub meshsim_version: String,
    /// The seed every strategy's simulation started from.
    pub seed: u64,
    /// Which scenario ran.
    pub scenario: ScenarioInfo,
    /// One entry per strategy, in the scenario's order.
    pub strategies: Vec<StrategyReport>,
    /// Timeline events as the simulation applied them (the same in every
    /// strategy's run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEntry>,
    /// Where it ran: `sim` (the deterministic simulator; omitted from the
    /// file) or `real` (this machine's sockets, in real time).
    #[serde(default, skip_serializing_if = "Mode::is_sim")]
    pub mode: Mode,
    /// Real mode: the cores of the machine it ran on (timings depend on
    /// them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_cores: Option<usize>,
}

/// Where a report's runs happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The deterministic simulator: same scenario and seed, same bytes.
    #[default]
    Sim,
    /// Real sockets in real time: compare with thresholds, never bytes.
    Real,
}

impl Mode {
    /// Whether this is the simulator (the default, left out of the file).
    pub fn is_sim(&self) -> bool {
        *self == Mode::Sim
    }
}

/// One applied timeline event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When, in ms of simulated time.
    pub at_ms: f64,
    /// What, e.g. `kill-pod pod=stockdata-0`.
    pub event: String,
}

/// Identifies the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// The scenario's name.
    pub name: String,
    /// SHA-256 (hex) of the resolved scenario, seed excluded.
    pub hash: String,
    /// The scenario file's text, comments included (what `index.html`
    /// shows). Command-line overrides such as `--strategies` are not in it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

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
    /// Whole latency distributions (see [`hist`]).
    #[serde(default)]
    pub histograms: Histograms,
    /// Where requests waited at a limit before reaching a replica, by hop:
    /// `browser_connections` (the open loop's `connections`),
    /// `app_streams` (the app's connection, at its peer's HTTP/2 stream
    /// limit), `sidecar_streams` (the sidecar's connection to a replica, at
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
    /// Per endpoint (pod name).
    pub endpoints: BTreeMap<String, EndpointReport>,
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

// === impl Report ===

impl Report {
    /// A report for the current schema version.
    pub fn new(
        meshsim_version: impl Into<String>,
        seed: u64,
        scenario_name: impl Into<String>,
        scenario_hash: impl Into<String>,
        strategies: Vec<StrategyReport>,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            meshsim_version: meshsim_version.into(),
            seed,
            scenario: ScenarioInfo {
                name: scenario_name.into(),
                hash: scenario_hash.into(),
                source: String::new(),
            },
            strategies,
            timeline: Vec::new(),
            mode: Mode::Sim,
            host_cores: None,
        }
    }

    /// Pretty JSON with a trailing newline: the exact bytes of `report.json`.
    pub fn to_json_bytes(&self) -> serde_json::Result<Vec<u8>> {
        crate::json_bytes(self)
    }

    /// Parses `report.json` bytes.
    pub fn from_json_slice(bytes: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(bytes)
    }
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
