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

pub mod breakdown;
pub mod charts;
pub mod compare;
pub mod compare_html;
pub mod fidelity;
pub mod hist;
pub mod html;
pub mod output;
mod proxy;
mod replica;
mod strategy;
pub mod summary;
pub mod sweep;
pub mod table;
pub mod validate;
mod workload;

use serde::{Deserialize, Serialize};

pub use proxy::{EndpointReport, ProxyReport};
pub use replica::{ReplicaReport, ReplicaTotals, ServerWork};
pub use strategy::{Histograms, HopWait, Latency, Requests, StrategyReport};
pub use validate::InvalidReport;
pub use workload::{PageLoad, PageSummary, SeriesPoint, WorkloadReport};

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

    /// Parses `report.json` bytes and checks them ([`Report::validate`]):
    /// a file that parses but could not be rendered (a time-series bucket
    /// of 0 ms, a latency near `f64::MAX`) is an error naming the field.
    pub fn from_json_slice(bytes: &[u8]) -> serde_json::Result<Self> {
        let report: Self = serde_json::from_slice(bytes)?;
        report
            .validate()
            .map_err(<serde_json::Error as serde::de::Error>::custom)?;
        Ok(report)
    }
}
