//! Sidecar configurations: a policy with optional features, or a mesh's
//! documented defaults.
//!
//! A mesh profile is a stack of this module's layers set up the way the mesh
//! ships. Every number is a named constant next to the layer it configures,
//! with the document or source file it comes from; `docs/profiles.md` has
//! the table. Where a mesh has no default (Linkerd retries and failure
//! accrual are opt-in; Istio has no outlier detection without a
//! DestinationRule), the profile has it off, and `+feature` turns it on
//! with that mesh's documented values.
//!
//! Profiles are plain constructors ([`SidecarConfig::linkerd`], …) and
//! builder methods for features; turning a strategy name into one of them is
//! the strategy module's job, so the proxy knows nothing of strategies or
//! scenarios.

use super::accrual::AccrualConfig;
use super::balance::{BalanceConfig, NoEndpoint, Policy};
use super::budget::BudgetConfig;
use super::discovery::ISTIO_DEBOUNCE_AFTER;
use super::endpoint::{
    ConnectConfig, ConnectMode, LINKERD_INBOUND_CONNECT_BACKOFF_MAX,
    LINKERD_INBOUND_FAILFAST_TIMEOUT, LINKERD_OUTBOUND_FAILFAST_TIMEOUT,
};
use super::h2::SidecarH2;
use super::load::LoadMetric;
use super::outlier::{
    CONSUL_PANIC_THRESHOLD, ENVOY_PANIC_THRESHOLD, ISTIO_MIN_HEALTH_PERCENT, OutlierConfig,
};
use super::retry::{
    Backoff, ENVOY_BACKOFF_BASE, ENVOY_BACKOFF_MAX, ENVOY_MAX_CONCURRENT_RETRIES, RetryConfig,
    UNLIMITED_RETRIES,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// Istio's default retry policy: 2 retries on connect-failure,
/// refused-stream, unavailable, cancelled, retriable-status-codes (503),
/// with the `previous_hosts` predicate (`HTTPRoute.retries` in
/// istio.io/api `networking/v1alpha3/virtual_service.proto`; seen in
/// proxies' config dumps as `num_retries: 2`).
pub const ISTIO_RETRIES: u32 = 2;
/// Istio sets Envoy's circuit-breaker thresholds, `max_retries` included,
/// to `u32::MAX` (istio/istio `pilot/pkg/networking/core/cluster_traffic_policy.go`,
/// `getDefaultCircuitBreakerThresholds`).
pub const ISTIO_MAX_CONCURRENT_RETRIES: u32 = u32::MAX;
/// Istio's default cluster connect timeout, 10 s (MeshConfig `connectTimeout`).
pub const ISTIO_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Consul's default upstream connect timeout, 5000 ms (`ConnectTimeoutMs`,
/// hashicorp/consul `agent/xds/config.go`).
pub const CONSUL_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Linkerd's default retry limit per request for HTTPRoute/GRPCRoute and
/// annotation retries (Linkerd 2.16+, `retry.linkerd.io/limit`,
/// <https://linkerd.io/2.16/reference/retries/>; the policy controller
/// passes it as `max_retries`, linkerd/linkerd2
/// `policy-controller/grpc/src/outbound/grpc.rs`).
pub const LINKERD_RETRY_LIMIT: u32 = 1;
/// Endpoint-change delay for plain `sidecar:<policy>` strategies: istiod's
/// debounce, the one documented figure.
pub const DEFAULT_DISCOVERY_DELAY: Duration = ISTIO_DEBOUNCE_AFTER;
/// Consul's proxycfg coalesces snapshot updates for 200 ms before the xDS
/// server sees them (hashicorp/consul `agent/proxycfg/state.go`,
/// `coalesceTimeout = 200 * time.Millisecond`). Before this was modelled
/// the Consul profile used 0.
pub const CONSUL_DISCOVERY_DELAY: Duration = Duration::from_millis(200);

/// The release the Linkerd profile models.
pub const LINKERD_RELEASE: &str = "Linkerd stable 2.19 (linkerd2-proxy)";
/// The release the Istio profile models: the 503 left the default retry
/// policy in 1.24 (istio/istio#52111); Envoy's ejection rule is 1.27+'s;
/// its HTTP/2 defaults are Envoy 1.36's (1,024 streams, 16/24 MiB windows),
/// which Istio 1.28 ships (istio/istio#57968). Before this the profile said
/// "Istio 1.24+ (Envoy 1.31+)" and used hyper's HTTP/2 settings.
pub const ISTIO_RELEASE: &str = "Istio 1.28+ (Envoy 1.36+)";
/// The release the Consul profile models: Consul 1.21 with an Envoy before
/// 1.36, whose HTTP/2 defaults are 2³¹−1 streams and 256 MiB windows. Before
/// this the profile said "Consul 1.2x (Envoy 1.31+)".
pub const CONSUL_RELEASE: &str = "Consul 1.21 (Envoy 1.31–1.35)";
/// How many times a `sidecar:<policy>` request that provably never reached
/// its endpoint is sent to another one (not a retry: nothing was sent).
/// meshsim's own choice: enough to get past a few endpoints that died at
/// once, bounded so a request cannot circle forever.
pub const SIDECAR_REDISPATCH_UNSENT: u32 = 4;
/// linkerd2-proxy's inbound connect timeout as Linkerd's chart sets it:
/// 100 ms (linkerd/linkerd2 `charts/linkerd-control-plane/values.yaml`,
/// `proxy.inboundConnectTimeout`; the outbound one is 1000 ms): the app
/// is on the pod's loopback, so a slow connect means it is not there.
pub const LINKERD_INBOUND_CONNECT_TIMEOUT: Duration = Duration::from_millis(100);
/// Plain `sidecar:<policy>` strategies model no mesh release.
pub const NO_RELEASE: &str = "none (a policy, not a mesh)";

/// Everything one sidecar is configured with, in the order a request
/// meets it (see [`super::stack`]).
#[derive(Debug, Clone)]
pub struct SidecarConfig {
    /// The mesh release these defaults come from.
    pub release: &'static str,
    /// Whole-request timeout (all tries), if any.
    pub request_timeout: Option<Duration>,
    /// Retries.
    pub retry: RetryConfig,
    /// Re-dispatches of a never-sent request to another endpoint, per
    /// request (0: none; the meshes' own proxies do not).
    pub redispatch_unsent: u32,
    /// Endpoint-change propagation delay.
    pub discovery_delay: Duration,
    /// Balancer policy, panic threshold and weights.
    pub balance: BalanceConfig,
    /// What the endpoint stacks measure as load.
    pub load: LoadMetric,
    /// Envoy outlier detection, if on.
    pub outlier: Option<OutlierConfig>,
    /// Linkerd failure accrual, if on.
    pub accrual: Option<AccrualConfig>,
    /// Per-try timeout, if any.
    pub per_try_timeout: Option<Duration>,
    /// Endpoint connections.
    pub connect: ConnectConfig,
    /// HTTP/2 settings of the listener and the endpoint connections.
    pub h2: SidecarH2,
}

/// Envoy's retry policy as Istio installs it (`max_concurrent` retries in
/// flight per cluster).
fn envoy_retry(max_concurrent: u32) -> RetryConfig {
    RetryConfig {
        max_retries: ISTIO_RETRIES,
        idempotent: false,
        budget: None,
        max_concurrent_retries: Some(max_concurrent),
        backoff: Some(Backoff::FullJitter {
            base: ENVOY_BACKOFF_BASE,
            max: ENVOY_BACKOFF_MAX,
        }),
        avoid_previous_hosts: true,
    }
}

/// meshsim's earlier `linkerd+retry`: a mix of Linkerd's two retry systems
/// (the route retries' limit of 1 with the ServiceProfile budget, no
/// backoff), kept so existing scenario files run as before.
fn linkerd_retry() -> RetryConfig {
    RetryConfig {
        max_retries: LINKERD_RETRY_LIMIT,
        idempotent: false,
        budget: Some(BudgetConfig::default()),
        max_concurrent_retries: None,
        backoff: None,
        avoid_previous_hosts: false,
    }
}

/// Linkerd ServiceProfile retries (`isRetryable` routes): only the retry
/// budget bounds them: no per-request limit, no backoff. linkerd/linkerd2-proxy
/// `linkerd/app/outbound/src/http/retry.rs` (`RetryPolicy::retry`: a failure
/// withdraws from the budget, anything else deposits; the retry is
/// `future::ready`, with no delay and no count).
fn linkerd_profile_retry() -> RetryConfig {
    RetryConfig {
        max_retries: UNLIMITED_RETRIES,
        budget: Some(BudgetConfig::default()),
        ..RetryConfig::OFF
    }
}

/// Linkerd 2.16+ HTTPRoute/GRPCRoute (annotation) retries: at most
/// `retry.linkerd.io/limit` (default 1) per request, no budget, linkerd2-proxy's
/// exponential backoff (25 ms…250 ms, jitter 1.0) before each
/// (linkerd/linkerd2-proxy
/// `linkerd/app/outbound/src/http/logical/policy/route/retry.rs`,
/// `RetryPolicy { max_retries, backoff, .. }`: no budget field).
fn linkerd_route_retry() -> RetryConfig {
    RetryConfig {
        max_retries: LINKERD_RETRY_LIMIT,
        backoff: Some(Backoff::LINKERD_ROUTE),
        ..RetryConfig::OFF
    }
}

// === impl SidecarConfig ===

impl SidecarConfig {
    /// A bare sidecar: `policy` over `load`, everything else off, endpoint
    /// changes after istiod's debounce. Its endpoints behave as Linkerd's
    /// (connected eagerly, picked only while connected, a 3 s fail-fast
    /// queue when none is), and a request that was never sent goes to
    /// another endpoint ([`SIDECAR_REDISPATCH_UNSENT`]). Before this it
    /// connected on demand, skipped endpoints only during a connect
    /// backoff, and failed at once with none available.
    fn bare(policy: Policy, load: LoadMetric) -> Self {
        Self {
            release: NO_RELEASE,
            request_timeout: None,
            retry: RetryConfig::OFF,
            redispatch_unsent: SIDECAR_REDISPATCH_UNSENT,
            discovery_delay: DEFAULT_DISCOVERY_DELAY,
            balance: BalanceConfig {
                policy,
                panic_threshold: None,
                no_endpoint: NoEndpoint::FailFast(LINKERD_OUTBOUND_FAILFAST_TIMEOUT),
                weights: BTreeMap::new(),
            },
            load,
            outlier: None,
            accrual: None,
            per_try_timeout: None,
            connect: ConnectConfig::default(),
            h2: SidecarH2::HYPER,
        }
    }

    /// The bare sidecar of the policy registered as `name` (the part after
    /// `sidecar:`; [`super::balance::POLICIES`]), if there is one.
    pub fn policy(name: &str) -> Option<Self> {
        let (policy, load) = (super::balance::named(name)?.sidecar)();
        Some(Self::bare(policy, load))
    }

    /// A registered policy's bare sidecar, by a name this module spells.
    fn registered(name: &str) -> Self {
        Self::policy(name).unwrap_or_else(|| panic!("policy {name:?} is registered"))
    }

    /// `sidecar:round-robin`.
    pub fn round_robin() -> Self {
        Self::registered("round-robin")
    }

    /// `sidecar:random`.
    pub fn random() -> Self {
        Self::registered("random")
    }

    /// `sidecar:least-request`: P2C over requests in flight (Envoy
    /// `LEAST_REQUEST`, `choice_count` 2).
    pub fn least_request() -> Self {
        Self::registered("least-request")
    }

    /// `sidecar:peak-ewma`: P2C over Linkerd's peak-EWMA cost.
    pub fn peak_ewma() -> Self {
        Self::registered("peak-ewma")
    }

    /// `sidecar:wrr`: gRPC's `weighted_round_robin` (Envoy's
    /// `client_side_weighted_round_robin`, the same gRFC A58 algorithm)
    /// over the replicas' ORCA load reports, with A58's defaults.
    pub fn wrr() -> Self {
        Self::registered("wrr")
    }

    /// `sidecar:weighted`: random by pod weight.
    pub fn weighted() -> Self {
        Self::registered("weighted")
    }

    /// Linkerd (stable 2.19): P2C peak-EWMA over endpoints that connect on
    /// discovery and are picked only while connected; retries, timeouts and
    /// failure accrual are opt-in; with no endpoint ready a request waits
    /// up to the 3 s fail-fast timeout for one, then fails. A request that
    /// was never sent is not sent elsewhere (linkerd2-proxy has no such
    /// re-dispatch outside its opt-in retries).
    pub fn linkerd() -> Self {
        let mut c = Self {
            release: LINKERD_RELEASE,
            discovery_delay: Duration::ZERO,
            h2: SidecarH2::LINKERD,
            redispatch_unsent: 0,
            ..Self::peak_ewma()
        };
        c.balance.no_endpoint = NoEndpoint::FailFast(LINKERD_OUTBOUND_FAILFAST_TIMEOUT);
        c
    }

    /// The same mesh's inbound sidecar, in front of a server pod's app:
    /// one endpoint (the app on the pod's loopback), no balancing choice,
    /// no retries, timeouts, outlier detection or failure accrual (each
    /// modelled mesh configures those on the client's outbound side), no
    /// discovery delay. What stays the mesh's: its HTTP/2 settings, its
    /// endpoint handling (Linkerd connects eagerly and queues for a ready
    /// endpoint, at most [`LINKERD_INBOUND_FAILFAST_TIMEOUT`], 1 s, with
    /// its inbound connect timeout and backoff; Envoy connects on demand
    /// and fails at once with the cluster's connect timeout) and its
    /// release. `endpoint_max_concurrent_streams` is left for the runner
    /// to set from the app's server.
    pub fn inbound(&self) -> Self {
        let mut c = Self::round_robin();
        c.release = self.release;
        c.redispatch_unsent = 0;
        c.discovery_delay = Duration::ZERO;
        c.h2 = self.h2;
        c.connect = self.connect;
        c.balance.no_endpoint = self.balance.no_endpoint;
        if let NoEndpoint::FailFast(_) = self.balance.no_endpoint {
            // linkerd2-proxy's inbound stack.
            c.balance.no_endpoint = NoEndpoint::FailFast(LINKERD_INBOUND_FAILFAST_TIMEOUT);
            c.connect.timeout = LINKERD_INBOUND_CONNECT_TIMEOUT;
            c.connect.backoff_max = LINKERD_INBOUND_CONNECT_BACKOFF_MAX;
        }
        c
    }

    /// Envoy's endpoint handling (Istio, Consul): connections on demand,
    /// no connect backoff or readiness gate, no fail-fast queue ("no
    /// healthy upstream" at once), no re-dispatch outside the retry policy.
    fn envoy_endpoints(mut self) -> Self {
        self.connect.mode = ConnectMode::OnDemand;
        self.balance.no_endpoint = NoEndpoint::Fail;
        self.redispatch_unsent = 0;
        self
    }

    /// Istio: Envoy `LEAST_REQUEST` (Istio ≥ 1.14 default), the default
    /// retry policy, circuit breakers at `u32::MAX`, no outlier detection
    /// without a DestinationRule, panic threshold 50 %.
    pub fn istio() -> Self {
        let mut c = Self::least_request().envoy_endpoints();
        c.release = ISTIO_RELEASE;
        c.retry = envoy_retry(ISTIO_MAX_CONCURRENT_RETRIES);
        c.balance.panic_threshold = Some(ENVOY_PANIC_THRESHOLD);
        c.connect.timeout = ISTIO_CONNECT_TIMEOUT;
        c.h2 = SidecarH2::ENVOY;
        c
    }

    /// Consul: Envoy `ROUND_ROBIN` (no LoadBalancer in the
    /// service-resolver), no retries, outlier detection on with Envoy's
    /// defaults (Consul always sends an OutlierDetection), the panic
    /// threshold disabled (0) on every upstream cluster, and proxycfg's
    /// 200 ms coalescing of endpoint changes.
    pub fn consul() -> Self {
        let mut c = Self::round_robin().envoy_endpoints();
        c.release = CONSUL_RELEASE;
        c.outlier = Some(OutlierConfig::default());
        c.balance.panic_threshold = Some(CONSUL_PANIC_THRESHOLD);
        c.connect.timeout = CONSUL_CONNECT_TIMEOUT;
        c.discovery_delay = CONSUL_DISCOVERY_DELAY;
        c.h2 = SidecarH2::ENVOY_1_35;
        c
    }

    /// Envoy-style retries (Istio's default policy, Envoy's default
    /// concurrent-retry breaker), unless retries are on already.
    pub fn with_envoy_retries(mut self) -> Self {
        if self.retry.max_retries == 0 {
            self.retry = envoy_retry(ENVOY_MAX_CONCURRENT_RETRIES);
        }
        self
    }

    /// meshsim's legacy Linkerd-style retries (limit 1, retry budget, no
    /// backoff: a mix of Linkerd's two systems), unless retries are on
    /// already.
    pub fn with_linkerd_retries(mut self) -> Self {
        if self.retry.max_retries == 0 {
            self.retry = linkerd_retry();
        }
        self
    }

    /// Linkerd ServiceProfile retries (budget only), replacing any retries
    /// already on: a ServiceProfile's retries win over route annotations.
    pub fn with_profile_retries(mut self) -> Self {
        self.retry = linkerd_profile_retry();
        self
    }

    /// Linkerd HTTPRoute retries (limit 1, backoff, no budget), unless
    /// retries are on already.
    pub fn with_route_retries(mut self) -> Self {
        if self.retry.max_retries == 0 {
            self.retry = linkerd_route_retry();
        }
        self
    }

    /// A Linkerd retry budget (turning on Linkerd-style retries if off).
    pub fn with_budget(self) -> Self {
        let mut c = self.with_linkerd_retries();
        c.retry.budget = Some(BudgetConfig::default());
        c
    }

    /// Linkerd failure accrual with its documented defaults.
    pub fn with_accrual(mut self) -> Self {
        self.accrual = Some(AccrualConfig::default());
        self
    }

    /// Envoy outlier detection with its defaults, and Envoy's panic
    /// threshold unless the profile already sets one (Consul's 0 stays).
    pub fn with_outlier(mut self) -> Self {
        self.outlier = Some(OutlierConfig::default());
        self.balance
            .panic_threshold
            .get_or_insert(ENVOY_PANIC_THRESHOLD);
        self
    }

    /// Outlier detection as Istio translates a DestinationRule's
    /// `outlierDetection` (istio/istio
    /// `pilot/pkg/networking/core/cluster_traffic_policy.go`,
    /// `applyOutlierDetection`): Envoy's consecutive-5xx defaults,
    /// success-rate ejection off (`EnforcingSuccessRate: 0`), and the panic
    /// threshold set from `minHealthPercent`, default 0 (disabled). Before
    /// this was modelled `istio+outlier` kept the 50 % panic threshold.
    pub fn with_destination_rule_outlier(mut self) -> Self {
        self.outlier = Some(OutlierConfig {
            success_rate: None,
            ..OutlierConfig::default()
        });
        self.balance.panic_threshold = Some(ISTIO_MIN_HEALTH_PERCENT);
        self
    }

    /// At most `n` retries per request. Turning retries on from off uses
    /// this profile's own retry style: Linkerd's (budget, no backoff) when
    /// `linkerd_style`, Envoy's otherwise.
    pub fn with_max_retries(self, n: u32, linkerd_style: bool) -> Self {
        let mut c = match (n > 0, linkerd_style) {
            (false, _) => self,
            (true, true) => self.with_linkerd_retries(),
            (true, false) => self.with_envoy_retries(),
        };
        c.retry.max_retries = n;
        c
    }
}
