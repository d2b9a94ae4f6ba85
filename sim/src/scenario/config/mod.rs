//! The scenario file's shape: one serde struct per TOML table.
//!
//! These types are the file format. Every table denies unknown fields, so
//! a misspelt key is an error rather than a silently ignored setting, and
//! every default is named on its field (and in `scenarios/README.md`).
//! What the types cannot express (ranges, cross-field rules, pod names) is
//! checked in `validate`.
//!
//! The tables are split by what they describe: this file holds the whole
//! scenario, `[report]` and `[sidecar]`; `load` the requests (`[load]`'s
//! fixed page schedule and `[workload]`'s open and closed loops); `cluster`
//! the nodes and network (`[cluster]`) and the two services
//! (`[stockdata]`, `[stockweb]`).

mod cluster;
mod load;

pub use cluster::{ClusterConfig, StockDataConfig, StockWebConfig};
pub use load::{Arrival, LoadConfig, Model, Target, Think, WorkloadConfig};

use crate::scenario::streams::StreamLimit;
use crate::scenario::timeline::TimelineEvent;
use crate::scenario::{SimDuration, defaults};
use crate::strategy::Strategy;
use serde::{Deserialize, Serialize};

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The text the scenario was parsed from (comments included), shown in
    /// reports. Not part of the format and not in the hash.
    #[serde(skip)]
    pub source: String,
    /// Name used in reports and the default output folder. Default: the
    /// file name without `.toml`.
    #[serde(default)]
    pub name: Option<String>,
    /// Free text shown nowhere but kept in the hash.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of every random choice in the run. Default 1.
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// Simulator tick: every timer and delivery is quantised to it. A whole
    /// number of milliseconds (tokio's timers have 1 ms resolution; a
    /// shorter tick would let tokio's clock run ahead of turmoil's).
    /// Default 1ms.
    #[serde(default = "defaults::tick")]
    pub tick: SimDuration,
    /// Simulated time after which a run is abandoned as an error. Default 10m.
    #[serde(default = "defaults::time_limit")]
    pub time_limit: SimDuration,
    /// The strategies to compare, each run in its own simulation from the
    /// same seed. Required.
    pub strategies: Vec<Strategy>,
    /// Nodes and network.
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// The StockData service.
    #[serde(default)]
    pub stockdata: StockDataConfig,
    /// The StockWeb app.
    #[serde(default)]
    pub stockweb: StockWebConfig,
    /// Page loads.
    #[serde(default)]
    pub load: LoadConfig,
    /// Overrides applied to every sidecar strategy (`sidecar:*`, `linkerd`,
    /// `istio`, `consul`) on top of its profile. Default: none.
    #[serde(default)]
    pub sidecar: SidecarOverrides,
    /// Faults and operations at simulated times. Default: none.
    #[serde(default, deserialize_with = "crate::scenario::timeline::deserialize")]
    pub timeline: Vec<TimelineEvent>,
    /// An open- or closed-loop workload instead of `[load]`'s fixed page
    /// schedule. Default: none (use `[load]`).
    #[serde(default)]
    pub workload: Option<WorkloadConfig>,
    /// What the report keeps. Left out of the hash when nothing is set.
    #[serde(default, skip_serializing_if = "ReportConfig::is_default")]
    pub report: ReportConfig,
}

/// What the report keeps and how finely.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Width of the time series' buckets. Default by run length (see
    /// [`crate::scenario::defaults::series_bucket`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_bucket: Option<SimDuration>,
    /// Keep every page load (its replicas, errors and latency) in
    /// report.json, not only their summary. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub page_detail: bool,
}

impl ReportConfig {
    /// Nothing set.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Settings that override a sidecar profile; unset keys keep the profile's
/// value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SidecarOverrides {
    /// Whole-request timeout, all tries included; on expiry the app gets
    /// `DEADLINE_EXCEEDED`.
    #[serde(default)]
    pub request_timeout: Option<SimDuration>,
    /// Per-try timeout; an expired try counts as a failure of its endpoint.
    #[serde(default)]
    pub per_try_timeout: Option<SimDuration>,
    /// Retries per request (0 turns retries off).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// Whether StockData's `Get` is idempotent (it is: a read), so any
    /// server-error outcome, timeouts included, may be retried.
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// Endpoint-change propagation delay.
    #[serde(default)]
    pub discovery_delay: Option<SimDuration>,
    /// Whether every StockData pod gets the mesh's inbound sidecar (both
    /// pods meshed, the default); `false`: client side only. Left out of
    /// the scenario hash when unset, so hashes from before the key stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<bool>,
    /// Random endpoints compared per pick by `least-request`.
    #[serde(default)]
    pub choice_count: Option<u32>,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` the sidecar's outbound listener
    /// advertises to the app (the app → sidecar hop).
    #[serde(default)]
    pub max_concurrent_streams: Option<StreamLimit>,
    /// Initial HTTP/2 stream window of the sidecar's connections, both its
    /// listener and its connections to endpoints (bytes).
    #[serde(default)]
    pub initial_stream_window: Option<u32>,
    /// Initial HTTP/2 connection window of the sidecar's connections (bytes).
    #[serde(default)]
    pub initial_connection_window: Option<u32>,
    /// Outlier detection's `max_ejection_percent` (Istio DestinationRule
    /// `maxEjectionPercent`), where outlier detection is on. Left out of
    /// the scenario hash when unset, so adding it moved no existing hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<u32>,
}
