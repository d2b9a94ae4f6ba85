//! The scenario file's shape: one serde struct per TOML table.
//!
//! These types are the file format. Every table denies unknown fields, so
//! a misspelt key is an error rather than a silently ignored setting, and
//! every default is named on its field (and in `scenarios/README.md`).
//! What the types cannot express (ranges, cross-field rules, pod names) is
//! checked in `validate`.

use super::service_time::ServiceTimeConfig;
use super::streams::StreamLimit;
use super::timeline::TimelineEvent;
use super::{SimDuration, defaults};
use crate::strategy::Strategy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::num::NonZeroU32;

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
    #[serde(default, deserialize_with = "super::timeline::deserialize")]
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
    /// [`super::defaults::series_bucket`]).
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

/// What each workload request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// `GET /api/stocks` on StockWeb: a page load, 100 concurrent calls.
    #[default]
    Page,
    /// `GET /api/stock/{id}` on StockWeb: one call.
    Get,
}

/// Open or closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// Requests arrive on a schedule, whatever the system does.
    Open,
    /// `users` each send, wait for the answer, think, repeat.
    Closed,
}

/// Open-loop arrival spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Arrival {
    /// Evenly spaced.
    Constant,
    /// Exponential gaps (a Poisson process).
    #[default]
    Poisson,
}

/// Think-time distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Think {
    /// Always `think_time`.
    Constant,
    /// Exponential with mean `think_time`.
    #[default]
    Exponential,
}

/// `[workload]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// What a request is. Default `page`.
    #[serde(default)]
    pub target: Target,
    /// Open or closed loop. Required.
    pub model: Model,
    /// Open loop: arrival spacing. Default `poisson`.
    #[serde(default)]
    pub arrival: Arrival,
    /// Open loop: requests per second. Required for `open`.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Open loop: most requests in flight at once (wrk2's connections);
    /// later arrivals wait, and their latency still counts from when they
    /// were due. Default: unlimited.
    #[serde(default)]
    pub connections: Option<u32>,
    /// Closed loop: number of users. Required for `closed`.
    #[serde(default)]
    pub users: Option<u32>,
    /// Closed loop: mean think time between a user's requests. Default 0.
    #[serde(default)]
    pub think_time: Option<SimDuration>,
    /// Closed loop: think-time distribution. Default `exponential`.
    #[serde(default)]
    pub think: Think,
    /// How long requests are issued. Required.
    pub duration: SimDuration,
    /// Requests due before this are run but left out of latency results.
    /// Default 0.
    #[serde(default)]
    pub warmup: SimDuration,
    /// After `duration`, how long to wait for requests still in flight
    /// before counting them as in flight at the end. Default 10s.
    #[serde(default = "defaults::drain")]
    pub drain: SimDuration,
    /// `get` target: share of requests for ids that do not exist
    /// (`NOT_FOUND`). Default 0.
    #[serde(default)]
    pub not_found_ratio: f64,
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

/// Cluster nodes (turmoil hosts) and the network between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Number of nodes. Pods are tasks with their own ports on a node.
    /// Default 3.
    #[serde(default = "defaults::nodes")]
    pub nodes: NonZeroU32,
    /// Pins pods to nodes, e.g. `{ stockdata-0 = "node-2" }`; others are
    /// spread (StockWeb pod j on node j mod nodes, StockData pod i on node
    /// (i + 1) mod nodes). Default: none.
    #[serde(default)]
    pub placement: BTreeMap<String, String>,
    /// Probability that a write (a segment) on any link is lost and costs a
    /// retransmission timeout (200 ms). Default 0.
    #[serde(default)]
    pub loss: f64,
    /// Extra random latency per segment, up to this much on top of
    /// `latency` (turmoil's exponential-shaped draw). Default 0 (fixed).
    #[serde(default)]
    pub jitter: SimDuration,
    /// One-way latency of every segment between two nodes (fixed; loopback
    /// within a node costs one tick). Delivery happens on tick boundaries,
    /// so latency is effectively rounded up to whole ticks. Default 1ms.
    #[serde(default = "defaults::latency")]
    pub latency: SimDuration,
}

/// The StockData service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockDataConfig {
    /// Replicas (pods). Default 2.
    #[serde(default = "defaults::stockdata_replicas")]
    pub replicas: NonZeroU32,
    /// Worker slots per replica; more requests wait FIFO. Default 8.
    #[serde(default = "defaults::concurrency")]
    pub concurrency: NonZeroU32,
    /// Service time per request. Default exponential, mean 2ms.
    #[serde(default = "defaults::service_time")]
    pub service_time: ServiceTimeConfig,
    /// Most requests waiting per replica; more are refused with
    /// `UNAVAILABLE` at once (load shedding). Default: unbounded.
    #[serde(default)]
    pub queue_bound: Option<u32>,
    /// Whether a cancelled call (client timeout) stops its work. `false`:
    /// abandoned work runs to the end, as in many real servers. Default true.
    #[serde(default = "defaults::yes")]
    pub honor_cancellation: bool,
    /// Per-pod service-time multipliers, e.g. `{ stockdata-2 = 10.0 }` for
    /// a replica ten times slower (a gray failure). Default: none.
    #[serde(default)]
    pub slowdown: BTreeMap<String, f64>,
    /// Per-pod service-time models replacing `service_time` for those pods,
    /// e.g. `{ stockdata-1 = { distribution = "pareto", min = "1ms", alpha = 1.5 } }`.
    #[serde(default)]
    pub pod_service_time: BTreeMap<String, ServiceTimeConfig>,
    /// Per-pod weights for `sidecar:weighted` (default 1 each).
    #[serde(default)]
    pub weights: BTreeMap<String, u32>,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` each replica's server advertises.
    /// Default 200 (hyper's server, which StockData is served by).
    #[serde(default = "defaults::stockdata_max_concurrent_streams")]
    pub max_concurrent_streams: StreamLimit,
    /// The server's initial HTTP/2 stream window (bytes). Default 1 MiB
    /// (hyper's server).
    #[serde(default = "defaults::server_stream_window")]
    pub initial_stream_window: u32,
    /// The server's initial HTTP/2 connection window (bytes). Default 1 MiB
    /// (hyper's server).
    #[serde(default = "defaults::server_connection_window")]
    pub initial_connection_window: u32,
}

/// The StockWeb app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockWebConfig {
    /// StockWeb pods; page loads go to them in turn. Each pod has its own
    /// client (and, for sidecar strategies, its own sidecar). Default 1.
    #[serde(default = "defaults::stockweb_replicas")]
    pub replicas: NonZeroU32,
    /// For `cached-dns`: re-resolve and reconnect once the client is this
    /// old (the seed's HttpClient handler lifetime). Default: never.
    #[serde(default)]
    pub handler_lifetime: Option<SimDuration>,
    /// For `client-rr`: the minimum gap between two resolutions of the
    /// headless service (grpc-go's `MinResolutionInterval`, default 30s).
    /// The client re-resolves only after a call failed on its connection,
    /// and not sooner than this after the previous resolution; it does not
    /// poll.
    #[serde(default = "defaults::dns_refresh")]
    pub dns_refresh: SimDuration,
    /// The client's initial HTTP/2 stream window (bytes). Default 2 MiB
    /// (hyper's client, which tonic's `Endpoint` keeps).
    #[serde(default = "defaults::client_stream_window")]
    pub initial_stream_window: u32,
    /// The client's initial HTTP/2 connection window (bytes). Default 5 MiB
    /// (hyper's client).
    #[serde(default = "defaults::client_connection_window")]
    pub initial_connection_window: u32,
}

/// The page loads a simulated browser makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadConfig {
    /// Number of page loads. Default 10.
    #[serde(default = "defaults::page_loads")]
    pub page_loads: u64,
    /// Time between the starts of two page loads (they may overlap).
    /// Default 100ms.
    #[serde(default = "defaults::interval")]
    pub interval: SimDuration,
    /// When the first page load starts, after every pod is up. Default 100ms.
    #[serde(default = "defaults::start")]
    pub start: SimDuration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nodes: defaults::nodes(),
            jitter: SimDuration::default(),
            loss: 0.0,
            placement: BTreeMap::new(),
            latency: defaults::latency(),
        }
    }
}

impl Default for StockDataConfig {
    fn default() -> Self {
        Self {
            replicas: defaults::stockdata_replicas(),
            concurrency: defaults::concurrency(),
            service_time: defaults::service_time(),
            queue_bound: None,
            honor_cancellation: true,
            slowdown: BTreeMap::new(),
            pod_service_time: BTreeMap::new(),
            weights: BTreeMap::new(),
            max_concurrent_streams: defaults::stockdata_max_concurrent_streams(),
            initial_stream_window: defaults::server_stream_window(),
            initial_connection_window: defaults::server_connection_window(),
        }
    }
}

impl Default for StockWebConfig {
    fn default() -> Self {
        Self {
            replicas: defaults::stockweb_replicas(),
            handler_lifetime: None,
            dns_refresh: defaults::dns_refresh(),
            initial_stream_window: defaults::client_stream_window(),
            initial_connection_window: defaults::client_connection_window(),
        }
    }
}

impl WorkloadConfig {
    /// The open loop's connection cap, `connections` or its default (the
    /// other models have none).
    pub fn connection_cap(&self) -> Option<usize> {
        (self.model == Model::Open).then(|| {
            self.connections
                .map_or(crate::topology::DEFAULT_CONNECTIONS, |c| c as usize)
        })
    }
}

impl StockDataConfig {
    /// What each replica's server advertises.
    pub fn server_h2(&self) -> stockdata::transport::ServerH2 {
        stockdata::transport::ServerH2 {
            max_concurrent_streams: self.max_concurrent_streams.0,
            initial_stream_window: self.initial_stream_window,
            initial_connection_window: self.initial_connection_window,
        }
    }
}

impl StockWebConfig {
    /// The client's receive windows.
    pub fn client_h2(&self) -> stockdata::transport::ClientH2 {
        stockdata::transport::ClientH2 {
            initial_stream_window: self.initial_stream_window,
            initial_connection_window: self.initial_connection_window,
        }
    }
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            page_loads: defaults::page_loads(),
            interval: defaults::interval(),
            start: defaults::start(),
        }
    }
}

impl From<ServiceTimeConfig> for stockdata::ServiceTime {
    fn from(c: ServiceTimeConfig) -> Self {
        match c {
            ServiceTimeConfig::Constant { value } => stockdata::ServiceTime::Constant(value.0),
            ServiceTimeConfig::Exponential { mean } => {
                stockdata::ServiceTime::Exponential { mean: mean.0 }
            }
            ServiceTimeConfig::Lognormal { median, sigma } => stockdata::ServiceTime::LogNormal {
                median: median.0,
                sigma,
            },
            ServiceTimeConfig::Pareto { min, alpha } => {
                stockdata::ServiceTime::Pareto { min: min.0, alpha }
            }
            ServiceTimeConfig::Bimodal { fast, slow, p_slow } => stockdata::ServiceTime::Bimodal {
                fast: fast.0,
                slow: slow.0,
                p_slow,
            },
        }
    }
}
