//! Where a scenario runs and what it runs: `[cluster]` (nodes and the
//! network between them), `[stockdata]` and `[stockweb]` (the two
//! services' pods and settings), with their defaults.

use crate::scenario::service_time::ServiceTimeConfig;
use crate::scenario::streams::StreamLimit;
use crate::scenario::{SimDuration, defaults};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::num::NonZeroU32;

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
