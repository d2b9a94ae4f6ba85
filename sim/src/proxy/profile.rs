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
use super::balance::p2c::ENVOY_CHOICE_COUNT;
use super::balance::{BalanceConfig, Policy};
use super::budget::BudgetConfig;
use super::discovery::ISTIO_DEBOUNCE_AFTER;
use super::endpoint::ConnectConfig;
use super::load::LoadMetric;
use super::load::peak_ewma::{LINKERD_DECAY, LINKERD_DEFAULT_RTT};
use super::outlier::{ENVOY_PANIC_THRESHOLD, OutlierConfig};
use super::retry::{
    ENVOY_BACKOFF_BASE, ENVOY_BACKOFF_MAX, ENVOY_MAX_CONCURRENT_RETRIES, RetryConfig,
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
/// Linkerd's default retry limit per request (`retry.linkerd.io/limit`,
/// <https://linkerd.io/2.16/reference/retries/>).
pub const LINKERD_RETRY_LIMIT: u32 = 1;
/// Endpoint-change delay for plain `sidecar:<policy>` strategies: istiod's
/// debounce, the one documented figure.
pub const DEFAULT_DISCOVERY_DELAY: Duration = ISTIO_DEBOUNCE_AFTER;

/// Everything one sidecar is configured with, in the order a request
/// meets it (see [`super::stack`]).
#[derive(Debug, Clone)]
pub struct SidecarConfig {
    /// Whole-request timeout (all tries), if any.
    pub request_timeout: Option<Duration>,
    /// Retries.
    pub retry: RetryConfig,
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
}

/// Envoy's retry policy as Istio installs it (`max_concurrent` retries in
/// flight per cluster).
fn envoy_retry(max_concurrent: u32) -> RetryConfig {
    RetryConfig {
        max_retries: ISTIO_RETRIES,
        idempotent: false,
        budget: None,
        max_concurrent_retries: Some(max_concurrent),
        backoff: Some((ENVOY_BACKOFF_BASE, ENVOY_BACKOFF_MAX)),
        avoid_previous_hosts: true,
    }
}

/// Linkerd's retries: a limit per request and a budget, no backoff.
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

// === impl SidecarConfig ===

impl SidecarConfig {
    /// A bare sidecar: `policy` over `load`, everything else off, endpoint
    /// changes after istiod's debounce.
    fn bare(policy: Policy, load: LoadMetric) -> Self {
        Self {
            request_timeout: None,
            retry: RetryConfig::OFF,
            discovery_delay: DEFAULT_DISCOVERY_DELAY,
            balance: BalanceConfig {
                policy,
                panic_threshold: None,
                weights: BTreeMap::new(),
            },
            load,
            outlier: None,
            accrual: None,
            per_try_timeout: None,
            connect: ConnectConfig::default(),
        }
    }

    /// `sidecar:round-robin`.
    pub fn round_robin() -> Self {
        Self::bare(Policy::RoundRobin, LoadMetric::PendingRequests)
    }

    /// `sidecar:random`.
    pub fn random() -> Self {
        Self::bare(Policy::Random, LoadMetric::PendingRequests)
    }

    /// `sidecar:least-request`: P2C over requests in flight (Envoy
    /// `LEAST_REQUEST`, `choice_count` 2).
    pub fn least_request() -> Self {
        Self::bare(
            Policy::P2c {
                choice_count: ENVOY_CHOICE_COUNT,
            },
            LoadMetric::PendingRequests,
        )
    }

    /// `sidecar:peak-ewma`: P2C over Linkerd's peak-EWMA cost.
    pub fn peak_ewma() -> Self {
        Self::bare(
            Policy::P2c { choice_count: 2 },
            LoadMetric::PeakEwma {
                default_rtt: LINKERD_DEFAULT_RTT,
                decay: LINKERD_DECAY,
            },
        )
    }

    /// `sidecar:weighted`: random by pod weight.
    pub fn weighted() -> Self {
        Self::bare(Policy::Weighted, LoadMetric::PendingRequests)
    }

    /// Linkerd: P2C peak-EWMA; retries, timeouts and failure accrual are
    /// opt-in; fail fast when no endpoint is available.
    pub fn linkerd() -> Self {
        Self {
            discovery_delay: Duration::ZERO,
            ..Self::peak_ewma()
        }
    }

    /// Istio: Envoy `LEAST_REQUEST` (Istio ≥ 1.14 default), the default
    /// retry policy, circuit breakers at `u32::MAX`, no outlier detection
    /// without a DestinationRule, panic threshold 50 %.
    pub fn istio() -> Self {
        let mut c = Self::least_request();
        c.retry = envoy_retry(ISTIO_MAX_CONCURRENT_RETRIES);
        c.balance.panic_threshold = Some(ENVOY_PANIC_THRESHOLD);
        c.connect.timeout = ISTIO_CONNECT_TIMEOUT;
        c
    }

    /// Consul: Envoy `ROUND_ROBIN` (no LoadBalancer in the
    /// service-resolver), no retries, and outlier detection on with Envoy's
    /// defaults (Consul always sends an OutlierDetection).
    pub fn consul() -> Self {
        let mut c = Self::round_robin();
        c.outlier = Some(OutlierConfig::default());
        c.balance.panic_threshold = Some(ENVOY_PANIC_THRESHOLD);
        c.connect.timeout = CONSUL_CONNECT_TIMEOUT;
        c.discovery_delay = Duration::ZERO;
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

    /// Linkerd-style retries (limit 1, retry budget, no backoff), unless
    /// retries are on already.
    pub fn with_linkerd_retries(mut self) -> Self {
        if self.retry.max_retries == 0 {
            self.retry = linkerd_retry();
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
    /// threshold.
    pub fn with_outlier(mut self) -> Self {
        self.outlier = Some(OutlierConfig::default());
        self.balance.panic_threshold = Some(ENVOY_PANIC_THRESHOLD);
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

    /// The resolved settings as `name → value` text, for reports.
    pub fn settings(&self) -> BTreeMap<String, String> {
        let per_try = self
            .per_try_timeout
            .map(|t| format!("{t:?}"))
            .unwrap_or_else(|| "none".into());
        let mut s = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            s.insert(k.to_string(), v);
        };
        put(
            "balancer",
            match (self.balance.policy, self.load) {
                (Policy::RoundRobin, _) => "round-robin".into(),
                (Policy::Random, _) => "random".into(),
                (Policy::P2c { choice_count }, LoadMetric::PendingRequests) => {
                    format!("least-request (choice_count {choice_count})")
                }
                (Policy::P2c { .. }, LoadMetric::PeakEwma { default_rtt, decay }) => {
                    format!("peak-ewma (default_rtt {default_rtt:?}, decay {decay:?})")
                }
                (Policy::Weighted, _) => "weighted".into(),
            },
        );
        put("discovery_delay", format!("{:?}", self.discovery_delay));
        put(
            "connect",
            format!(
                "timeout {:?}, backoff {:?}..{:?} jitter {}",
                self.connect.timeout,
                self.connect.backoff_min,
                self.connect.backoff_max,
                self.connect.backoff_jitter
            ),
        );
        let r = &self.retry;
        put(
            "retries",
            if r.max_retries == 0 {
                "off".into()
            } else {
                format!(
                    "max {} per request, {}{}{}{}",
                    r.max_retries,
                    if r.idempotent {
                        "any server error"
                    } else {
                        "connect-failure/refused-stream/unavailable only"
                    },
                    r.backoff
                        .map(|(b, m)| format!(", backoff {b:?}..{m:?}"))
                        .unwrap_or_default(),
                    r.max_concurrent_retries
                        .map(|m| format!(", max concurrent {m}"))
                        .unwrap_or_default(),
                    if r.avoid_previous_hosts {
                        ", avoid previous hosts"
                    } else {
                        ""
                    },
                )
            },
        );
        put(
            "retry_budget",
            r.budget
                .map(|b| {
                    format!(
                        "ratio {}, min {}/s, ttl {:?}",
                        b.retry_ratio, b.min_retries_per_second, b.ttl
                    )
                })
                .unwrap_or_else(|| "none".into()),
        );
        put(
            "failure_accrual",
            self.accrual
                .map(|a| {
                    format!(
                        "consecutive {}, penalty {:?}..{:?}, jitter {}",
                        a.max_failures, a.min_penalty, a.max_penalty, a.jitter
                    )
                })
                .unwrap_or_else(|| "off".into()),
        );
        put(
            "outlier_detection",
            self
                .outlier
                .map(|o| {
                    format!(
                        "consecutive_5xx {}, interval {:?}, base_ejection {:?}, max_ejection {:?}, max_ejection_percent {}",
                        o.consecutive_5xx, o.interval, o.base_ejection_time, o.max_ejection_time, o.max_ejection_percent
                    )
                })
                .unwrap_or_else(|| "off".into()),
        );
        put(
            "panic_threshold",
            self.balance
                .panic_threshold
                .map(|p| format!("{p}%"))
                .unwrap_or_else(|| "none (fail fast)".into()),
        );
        put("per_try_timeout", per_try);
        put(
            "request_timeout",
            self.request_timeout
                .map(|t| format!("{t:?}"))
                .unwrap_or_else(|| "none".into()),
        );
        s
    }
}
