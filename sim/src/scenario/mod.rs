//! Scenario files: what to simulate and which strategies to compare.
//!
//! A scenario is TOML, parsed with `deny_unknown_fields` everywhere so a
//! misspelt key is an error rather than a silently ignored setting. Every
//! field is documented in `scenarios/README.md`; defaults are listed there
//! and on each field below.
//!
//! Errors name the file, line and column and what was expected
//! (`scenarios/x.toml:7:12: invalid value: integer `-2`, expected a nonzero u32`).

mod duration;
mod error;
pub mod timeline;

pub use duration::SimDuration;
pub use error::ScenarioError;
pub use timeline::{EventKind, TimelineEvent};

use crate::strategy::Strategy;
use crate::topology::{self, INGRESS, MAX_PODS_PER_SERVICE, STOCKDATA, STOCKWEB};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

/// The bundled demo scenario, so `meshsim run` works from any directory.
pub const BUNDLED_DEMO: &str = include_str!("../../../scenarios/stockweb-demo.toml");
/// The path the bundled demo is reported under.
pub const BUNDLED_DEMO_PATH: &str = "scenarios/stockweb-demo.toml";

/// grpc's minimum interval between DNS re-resolutions (grpc-go
/// `internal/resolver/dns/dns_resolver.go`, `MinResolutionInterval`, 30 s).
pub const GRPC_MIN_DNS_RESOLUTION_INTERVAL: Duration = Duration::from_secs(30);

/// Most requests an open-loop workload may issue.
pub const MAX_REQUESTS: u64 = 10_000_000;

pub use crate::topology::MAX_NODES;

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
    #[serde(default)]
    pub timeline: Vec<TimelineEvent>,
    /// An open- or closed-loop workload instead of `[load]`'s fixed page
    /// schedule. Default: none (use `[load]`).
    #[serde(default)]
    pub workload: Option<WorkloadConfig>,
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
}

/// A service-time distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ServiceTimeConfig {
    /// `{ distribution = "constant", value = "2ms" }`
    Constant {
        /// The service time.
        value: SimDuration,
    },
    /// `{ distribution = "exponential", mean = "2ms" }`
    Exponential {
        /// The mean service time.
        mean: SimDuration,
    },
    /// `{ distribution = "lognormal", median = "2ms", sigma = 0.5 }`
    Lognormal {
        /// The median.
        median: SimDuration,
        /// σ of the underlying normal (> 0).
        sigma: f64,
    },
    /// `{ distribution = "pareto", min = "1ms", alpha = 2.5 }`
    Pareto {
        /// The smallest value.
        min: SimDuration,
        /// Tail index (> 0; the mean is finite above 1).
        alpha: f64,
    },
    /// `{ distribution = "bimodal", fast = "1ms", slow = "50ms", p_slow = 0.1 }`
    Bimodal {
        /// The common service time.
        fast: SimDuration,
        /// The rare service time.
        slow: SimDuration,
        /// Probability of `slow` (0 to 1).
        p_slow: f64,
    },
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
    /// For `client-rr`: how often the client re-resolves the headless
    /// service. Default 30s (grpc's minimum DNS re-resolution interval).
    #[serde(default = "defaults::dns_refresh")]
    pub dns_refresh: SimDuration,
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

mod defaults {
    use super::*;
    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::MIN.saturating_add(n.saturating_sub(1))
    }
    pub fn seed() -> u64 {
        1
    }
    pub fn tick() -> SimDuration {
        SimDuration(Duration::from_millis(1))
    }
    pub fn time_limit() -> SimDuration {
        SimDuration(Duration::from_secs(600))
    }
    pub fn nodes() -> NonZeroU32 {
        nz(3)
    }
    pub fn latency() -> SimDuration {
        SimDuration(Duration::from_millis(1))
    }
    pub fn stockdata_replicas() -> NonZeroU32 {
        nz(2)
    }
    pub fn concurrency() -> NonZeroU32 {
        nz(8)
    }
    pub fn service_time() -> ServiceTimeConfig {
        ServiceTimeConfig::Exponential {
            mean: SimDuration(Duration::from_millis(2)),
        }
    }
    pub fn stockweb_replicas() -> NonZeroU32 {
        NonZeroU32::MIN
    }
    pub fn dns_refresh() -> SimDuration {
        SimDuration(GRPC_MIN_DNS_RESOLUTION_INTERVAL)
    }
    pub fn yes() -> bool {
        true
    }
    pub fn drain() -> SimDuration {
        SimDuration(Duration::from_secs(10))
    }
    pub fn page_loads() -> u64 {
        10
    }
    pub fn interval() -> SimDuration {
        SimDuration(Duration::from_millis(100))
    }
    pub fn start() -> SimDuration {
        SimDuration(Duration::from_millis(100))
    }
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
        }
    }
}

impl Default for StockWebConfig {
    fn default() -> Self {
        Self {
            replicas: defaults::stockweb_replicas(),
            handler_lifetime: None,
            dns_refresh: defaults::dns_refresh(),
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

// === impl ServiceTimeConfig ===

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

// === impl Scenario ===

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates scenario text; `path` is used in errors and for
    /// the default name.
    pub fn parse(text: &str, path: &str) -> Result<Self, ScenarioError> {
        let mut scenario: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError::from_toml(path, text, &e))?;
        if scenario.name.is_none() {
            let stem = Path::new(path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".to_string());
            scenario.name = Some(stem);
        }
        scenario.source = text.to_string();
        scenario.validate(path)?;
        Ok(scenario)
    }

    /// Checks what the types alone cannot.
    pub fn validate(&self, path: &str) -> Result<(), ScenarioError> {
        let invalid = |field: &str, message: String| ScenarioError::Invalid {
            path: path.to_string(),
            field: field.to_string(),
            message,
        };
        if self.strategies.is_empty() {
            return Err(invalid(
                "strategies",
                "expected at least one strategy".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for s in &self.strategies {
            if !seen.insert(*s) {
                return Err(invalid("strategies", format!("`{s}` is listed twice")));
            }
        }
        let max_pods = MAX_PODS_PER_SERVICE;
        for (field, n) in [
            ("stockdata.replicas", self.stockdata.replicas.get()),
            ("stockweb.replicas", self.stockweb.replicas.get()),
        ] {
            if n > max_pods {
                return Err(invalid(
                    field,
                    format!("expected at most {max_pods}, got {n}"),
                ));
            }
        }
        if self.cluster.nodes.get() > MAX_NODES {
            return Err(invalid(
                "cluster.nodes",
                format!(
                    "expected at most {MAX_NODES} (each node is a turmoil host; step cost grows with the cube of the host count), got {}",
                    self.cluster.nodes
                ),
            ));
        }
        if self.tick.0.is_zero() || !self.tick.0.as_nanos().is_multiple_of(1_000_000) {
            return Err(invalid(
                "tick",
                format!(
                    "{} is not a whole number of milliseconds; expected 1ms, 2ms, … (tokio timers \
                     have 1 ms resolution, so a shorter tick makes tokio's clock run ahead of the \
                     network's)",
                    self.tick
                ),
            ));
        }
        if self.load.page_loads == 0 {
            return Err(invalid("load.page_loads", "expected at least 1".into()));
        }
        if self.load.interval.0.is_zero() {
            return Err(invalid(
                "load.interval",
                "expected a duration above 0".into(),
            ));
        }
        if let Some(lifetime) = self.stockweb.handler_lifetime
            && lifetime.0.is_zero()
        {
            return Err(invalid(
                "stockweb.handler_lifetime",
                "expected a duration above 0".into(),
            ));
        }
        let models = std::iter::once((
            "stockdata.service_time".to_string(),
            self.stockdata.service_time,
        ))
        .chain(
            self.stockdata
                .pod_service_time
                .iter()
                .map(|(pod, m)| (format!("stockdata.pod_service_time.{pod}"), *m)),
        );
        for (field, model) in models {
            let field = field.as_str();
            match model {
                ServiceTimeConfig::Exponential { mean } if mean.0.is_zero() => {
                    return Err(invalid(field, "mean: expected a duration above 0".into()));
                }
                ServiceTimeConfig::Lognormal { sigma, .. }
                    if !(sigma.is_finite() && sigma > 0.0) =>
                {
                    return Err(invalid(
                        field,
                        format!("sigma = {sigma}; expected a number above 0"),
                    ));
                }
                ServiceTimeConfig::Pareto { alpha, .. } if !(alpha.is_finite() && alpha > 0.0) => {
                    return Err(invalid(
                        field,
                        format!("alpha = {alpha}; expected a number above 0"),
                    ));
                }
                ServiceTimeConfig::Bimodal { p_slow, .. } if !(0.0..=1.0).contains(&p_slow) => {
                    return Err(invalid(
                        field,
                        format!("p_slow = {p_slow}; expected a probability from 0 to 1"),
                    ));
                }
                _ => {}
            }
        }
        let pods: Vec<String> = (0..self.stockdata.replicas.get())
            .map(|i| topology::pod_name(STOCKDATA, i))
            .collect();
        for (pod, factor) in &self.stockdata.slowdown {
            if !pods.contains(pod) {
                return Err(invalid(
                    "stockdata.slowdown",
                    format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
                ));
            }
            if !(factor.is_finite() && *factor > 0.0) {
                return Err(invalid(
                    "stockdata.slowdown",
                    format!("`{pod}` = {factor}; expected a number above 0"),
                ));
            }
        }
        if let Some(pod) = self
            .stockdata
            .pod_service_time
            .keys()
            .find(|p| !pods.contains(p))
        {
            return Err(invalid(
                "stockdata.pod_service_time",
                format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
            ));
        }
        if let Some(pod) = self.stockdata.weights.keys().find(|p| !pods.contains(p)) {
            return Err(invalid(
                "stockdata.weights",
                format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
            ));
        }
        let known = self.known_pods();
        let nodes: Vec<String> = (0..self.cluster.nodes.get())
            .map(|n| topology::node_name(n as usize))
            .collect();
        for (pod, node) in &self.cluster.placement {
            if !known.contains(pod) {
                return Err(invalid(
                    "cluster.placement",
                    format!("unknown pod `{pod}`; expected one of {}", known.join(", ")),
                ));
            }
            if !nodes.contains(node) {
                return Err(invalid(
                    "cluster.placement",
                    format!(
                        "`{pod}` on unknown node `{node}`; expected one of {}",
                        nodes.join(", ")
                    ),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.cluster.loss) {
            return Err(invalid(
                "cluster.loss",
                "expected a probability from 0 to 1".into(),
            ));
        }
        if self.sidecar.choice_count == Some(0) {
            return Err(invalid(
                "sidecar.choice_count",
                "expected at least 1".into(),
            ));
        }
        if self.sidecar.request_timeout.is_some_and(|t| t.0.is_zero()) {
            return Err(invalid(
                "sidecar.request_timeout",
                "expected a duration above 0".into(),
            ));
        }
        if self.sidecar.per_try_timeout.is_some_and(|t| t.0.is_zero()) {
            return Err(invalid(
                "sidecar.per_try_timeout",
                "expected a duration above 0".into(),
            ));
        }
        if self.stockweb.dns_refresh.0.is_zero() {
            return Err(invalid(
                "stockweb.dns_refresh",
                "expected a duration above 0".into(),
            ));
        }
        if let Some(w) = &self.workload {
            let invalid = |field: &str, message: String| ScenarioError::Invalid {
                path: path.to_string(),
                field: format!("workload.{field}"),
                message,
            };
            if self.load != LoadConfig::default() {
                return Err(ScenarioError::Invalid {
                    path: path.to_string(),
                    field: "load".into(),
                    message: "use either [load] (a fixed page schedule) or [workload], not both"
                        .into(),
                });
            }
            match w.model {
                Model::Open => match w.rate {
                    Some(r) if r.is_finite() && r > 0.0 => {}
                    Some(r) => {
                        return Err(invalid("rate", format!("{r}; expected a rate above 0")));
                    }
                    None => return Err(invalid("rate", "is required for an open loop".into())),
                },
                Model::Closed => match w.users {
                    Some(u) if u >= 1 => {}
                    Some(_) => return Err(invalid("users", "expected at least 1".into())),
                    None => return Err(invalid("users", "is required for a closed loop".into())),
                },
            }
            if let Some(rate) = w.rate {
                let requests = rate * w.duration.0.as_secs_f64();
                if requests > MAX_REQUESTS as f64 {
                    return Err(invalid(
                        "rate",
                        format!(
                            "{rate}/s for {} is {requests:.0} requests; expected at most {MAX_REQUESTS}",
                            w.duration
                        ),
                    ));
                }
            }
            if w.duration.0.is_zero() {
                return Err(invalid("duration", "expected a duration above 0".into()));
            }
            if w.warmup >= w.duration {
                return Err(invalid("warmup", "expected less than the duration".into()));
            }
            if w.connections == Some(0) {
                return Err(invalid("connections", "expected at least 1".into()));
            }
            if !(0.0..=1.0).contains(&w.not_found_ratio) {
                return Err(invalid(
                    "not_found_ratio",
                    "expected a share from 0 to 1".into(),
                ));
            }
            if w.duration.0 + w.drain.0 >= self.time_limit.0 {
                return Err(invalid(
                    "duration",
                    format!(
                        "duration + drain ({}) must be less than time_limit ({})",
                        SimDuration(w.duration.0 + w.drain.0),
                        self.time_limit
                    ),
                ));
            }
        }
        self.validate_timeline(path)?;
        let last_start = self.schedule().last();
        if last_start >= self.time_limit.0 {
            return Err(invalid(
                "time_limit",
                format!(
                    "the last page load starts at {}, not before the time limit {}; expected a larger time_limit",
                    SimDuration(last_start),
                    self.time_limit
                ),
            ));
        }
        Ok(())
    }

    /// Pod names the scenario can refer to: StockData pods up to the
    /// largest replica count it ever asks for, and the StockWeb pods.
    pub fn known_pods(&self) -> Vec<String> {
        let most = self
            .timeline
            .iter()
            .filter(|e| e.kind == EventKind::Scale)
            .filter_map(|e| e.replicas)
            .fold(self.stockdata.replicas.get(), u32::max);
        (0..most)
            .map(|i| topology::pod_name(STOCKDATA, i))
            .chain((0..self.stockweb.replicas.get()).map(|j| topology::pod_name(STOCKWEB, j)))
            .collect()
    }

    /// Node names, plus the browser's host.
    pub fn known_hosts(&self) -> Vec<String> {
        (0..self.cluster.nodes.get())
            .map(|n| topology::node_name(n as usize))
            .chain(std::iter::once(INGRESS.to_string()))
            .collect()
    }

    /// When the run ends (requests stop being issued); events must happen
    /// before.
    pub fn run_end(&self) -> Duration {
        match &self.workload {
            Some(w) => w.duration.0,
            None => self.schedule().last(),
        }
    }

    fn validate_timeline(&self, path: &str) -> Result<(), ScenarioError> {
        let pods = self.known_pods();
        let hosts = self.known_hosts();
        let end = self.run_end();
        let mut windows: Vec<(String, Duration, Duration, usize)> = Vec::new();
        for (i, e) in self.timeline.iter().enumerate() {
            let invalid = |key: &str, message: String| ScenarioError::Invalid {
                path: path.to_string(),
                field: format!("timeline[{i}].{key}"),
                message: format!("{} event: {message}", e.kind.name()),
            };
            use EventKind::*;
            let uses = |key: &str| -> bool {
                match key {
                    "pod" => matches!(e.kind, KillPod | Restart | Slow | Pause),
                    "node" => matches!(e.kind, CrashNode | Restart),
                    "nodes" => matches!(e.kind, Latency | Partition | Heal | Loss),
                    "from" => matches!(e.kind, Partition | Heal | Loss),
                    "rate" => e.kind == Loss,
                    "factor" => e.kind == Slow,
                    "add" => e.kind == Latency,
                    "duration" => matches!(
                        e.kind,
                        Slow | Pause | Latency | Partition | CrashNode | KillPod | Loss
                    ),
                    "detect_after" => e.kind == CrashNode,
                    "ready_after" => matches!(
                        e.kind,
                        Restart | Scale | RollingRestart | KillPod | CrashNode
                    ),
                    "service" | "replicas" => {
                        e.kind == Scale || (key == "service" && e.kind == RollingRestart)
                    }
                    "max_surge" | "grace" => e.kind == RollingRestart,
                    _ => true,
                }
            };
            let present = [
                ("pod", e.pod.is_some()),
                ("node", e.node.is_some()),
                ("nodes", e.nodes.is_some()),
                ("from", e.from.is_some()),
                ("factor", e.factor.is_some()),
                ("rate", e.rate.is_some()),
                ("add", e.add.is_some()),
                ("duration", e.duration.is_some()),
                ("detect_after", e.detect_after.is_some()),
                ("ready_after", e.ready_after.is_some()),
                ("service", e.service.is_some()),
                ("replicas", e.replicas.is_some()),
                ("max_surge", e.max_surge.is_some()),
                ("grace", e.grace.is_some()),
            ];
            for (key, is_set) in present {
                if is_set && !uses(key) {
                    return Err(invalid(key, "this event takes no such key".into()));
                }
            }
            let need = |key: &str, ok: bool| {
                if ok {
                    Ok(())
                } else {
                    Err(invalid(key, "is required".into()))
                }
            };
            match e.kind {
                KillPod | Slow | Pause => need("pod", e.pod.is_some())?,
                CrashNode => need("node", e.node.is_some())?,
                Restart => {
                    if e.pod.is_some() == e.node.is_some() {
                        return Err(invalid(
                            "pod",
                            "expected exactly one of `pod` or `node`".into(),
                        ));
                    }
                }
                Latency | Partition | Heal | Loss => {
                    need("nodes", e.nodes.as_ref().is_some_and(|n| !n.is_empty()))?
                }
                Scale => need("replicas", e.replicas.is_some())?,
                RollingRestart => {}
            }
            if matches!(e.kind, Slow | Pause | Latency) {
                need("duration", e.duration.is_some())?;
            }
            if e.kind == Slow {
                need("factor", e.factor.is_some_and(|f| f.is_finite() && f > 0.0))?;
            }
            if e.kind == Loss {
                need("rate", e.rate.is_some())?;
                if e.rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                    return Err(invalid("rate", "expected a probability from 0 to 1".into()));
                }
            }
            if e.kind == Latency {
                need("add", e.add.is_some())?;
                if e.nodes.as_ref().is_some_and(|n| n.len() > 2) {
                    return Err(invalid(
                        "nodes",
                        "expected one node (all its links) or two (one link)".into(),
                    ));
                }
            }
            if let Some(pod) = &e.pod {
                if !pods.contains(pod) {
                    return Err(invalid(
                        "pod",
                        format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
                    ));
                }
                if matches!(e.kind, Slow | Pause) && !topology::is_stockdata_pod(pod) {
                    return Err(invalid(
                        "pod",
                        "only StockData pods have a service time".into(),
                    ));
                }
            }
            for (key, list) in [
                ("node", e.node.iter().cloned().collect::<Vec<_>>()),
                ("nodes", e.nodes.clone().unwrap_or_default()),
                ("from", e.from.clone().unwrap_or_default()),
            ] {
                for n in list {
                    let nodes_only = key == "node";
                    let valid = if nodes_only {
                        topology::node_index(&n).is_some() && hosts.contains(&n)
                    } else {
                        hosts.contains(&n)
                    };
                    if !valid {
                        return Err(invalid(
                            key,
                            format!("unknown node `{n}`; expected one of {}", hosts.join(", ")),
                        ));
                    }
                }
            }
            if let Some(service) = &e.service
                && service != "stockdata"
            {
                return Err(invalid(
                    "service",
                    format!("unknown service `{service}`; expected stockdata"),
                ));
            }
            if e.kind == RollingRestart && e.service.is_none() {
                return Err(invalid("service", "is required".into()));
            }
            if let Some(r) = e.replicas
                && (!(1..=MAX_PODS_PER_SERVICE).contains(&r))
            {
                return Err(invalid(
                    "replicas",
                    format!(
                        "expected 1 to {MAX_PODS_PER_SERVICE}, got {r}"
                    ),
                ));
            }
            if e.max_surge.is_some_and(|s| s > 1) {
                return Err(invalid("max_surge", "expected 0 or 1".into()));
            }
            if e.factor.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
                return Err(invalid("factor", "expected a number above 0".into()));
            }
            match (e.every, e.count) {
                (Some(every), _) if every.0.is_zero() => {
                    return Err(invalid("every", "expected a duration above 0".into()));
                }
                (_, Some(0)) => return Err(invalid("count", "expected at least 1".into())),
                (None, Some(c)) if c > 1 => {
                    return Err(invalid("every", "is required when count > 1".into()));
                }
                _ => {}
            }
            for t in e.occurrences() {
                if t >= end {
                    return Err(invalid(
                        "at",
                        format!(
                            "an occurrence at {} is not before the end of the run ({}); expected an earlier time",
                            SimDuration(t),
                            SimDuration(end)
                        ),
                    ));
                }
                if let Some((a, b)) = e.window(t) {
                    let target = match e.kind {
                        Slow | Pause => format!("pod {}", e.pod.clone().unwrap_or_default()),
                        Latency => {
                            format!("latency {}", e.nodes.clone().unwrap_or_default().join(","))
                        }
                        Partition => format!(
                            "partition {}",
                            e.nodes.clone().unwrap_or_default().join(",")
                        ),
                        Loss => format!("loss {}", e.nodes.clone().unwrap_or_default().join(",")),
                        CrashNode => format!("node {}", e.node.clone().unwrap_or_default()),
                        KillPod => format!("pod {}", e.pod.clone().unwrap_or_default()),
                        _ => continue,
                    };
                    if let Some((_, _, _, other)) = windows
                        .iter()
                        .find(|(k, s, f, _)| *k == target && a < *f && *s < b)
                    {
                        return Err(invalid(
                            "at",
                            format!(
                                "overlaps timeline[{other}] on the same {target}; expected disjoint fault windows"
                            ),
                        ));
                    }
                    windows.push((target, a, b, i));
                }
            }
        }
        Ok(())
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("scenario")
    }

    /// Page-load start times.
    pub fn schedule(&self) -> loadgen::FixedInterval {
        loadgen::FixedInterval {
            start: self.load.start.0,
            interval: self.load.interval.0,
            count: self.load.page_loads,
        }
    }

    /// SHA-256 (hex) of the resolved scenario with the seed left out, so a
    /// report can say exactly what ran and `--seed` runs stay comparable.
    pub fn hash(&self) -> String {
        let mut canonical = self.clone();
        canonical.seed = 0;
        // Serialising plain data (strings, numbers, lists) cannot fail.
        let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_scenario_gets_documented_defaults() {
        let s = Scenario::parse("strategies = [\"sidecar\"]", "dir/minimal.toml").expect("valid");
        assert_eq!(s.name(), "minimal");
        assert_eq!(s.seed, 1);
        assert_eq!(s.tick.to_string(), "1ms");
        assert_eq!(s.time_limit.to_string(), "600s");
        assert_eq!(
            (s.cluster.nodes.get(), s.cluster.latency.to_string()),
            (3, "1ms".into())
        );
        assert_eq!(
            (s.stockdata.replicas.get(), s.stockdata.concurrency.get()),
            (2, 8)
        );
        assert_eq!(
            s.stockdata.service_time,
            ServiceTimeConfig::Exponential {
                mean: SimDuration(Duration::from_millis(2))
            }
        );
        assert_eq!(
            (s.stockweb.replicas.get(), s.stockweb.handler_lifetime),
            (1, None)
        );
        assert_eq!(s.load, LoadConfig::default());
        assert_eq!(s.load.page_loads, 10);
    }

    #[test]
    fn bundled_demo_parses() {
        let s = Scenario::parse(BUNDLED_DEMO, BUNDLED_DEMO_PATH).expect("valid");
        assert_eq!(s.name(), "stockweb-demo");
        assert_eq!(s.strategies.len(), 2);
    }

    #[test]
    fn hash_ignores_seed_but_not_settings() {
        let base = Scenario::parse(BUNDLED_DEMO, BUNDLED_DEMO_PATH).expect("valid");
        let mut reseeded = base.clone();
        reseeded.seed = 99;
        assert_eq!(base.hash(), reseeded.hash());
        let mut more = base.clone();
        more.load.page_loads += 1;
        assert_ne!(base.hash(), more.hash());
        let mut fewer = base.clone();
        fewer.strategies.pop();
        assert_ne!(base.hash(), fewer.hash());
    }

    #[test]
    fn limits_are_enforced_with_field_names() {
        let err = |text: &str| {
            Scenario::parse(text, "x.toml")
                .expect_err("invalid")
                .to_string()
        };
        assert!(err("strategies = []").contains("`strategies`"));
        assert!(
            err("strategies = [\"sidecar\"]\n[stockdata]\nreplicas = 1001")
                .contains("`stockdata.replicas`: expected at most 1000")
        );
        assert!(
            err("strategies = [\"sidecar\"]\n[cluster]\nnodes = 65").contains("`cluster.nodes`")
        );
        assert!(
            err("strategies = [\"sidecar\"]\n[load]\npage_loads = 0").contains("`load.page_loads`")
        );
        assert!(err("strategies = [\"sidecar\"]\ntick = \"0s\"").contains("`tick`"));
        assert!(
            err("strategies = [\"sidecar\"]\ntick = \"100us\"")
                .contains("whole number of milliseconds")
        );
        assert!(
            err("strategies = [\"sidecar\"]\n[stockweb]\nhandler_lifetime = \"0ms\"")
                .contains("`stockweb.handler_lifetime`")
        );
    }
}
