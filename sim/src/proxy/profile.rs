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

use super::accrual::AccrualConfig;
use super::balance::p2c::ENVOY_CHOICE_COUNT;
use super::balance::{BalanceConfig, Policy};
use super::budget::BudgetConfig;
use super::discovery::ISTIO_DEBOUNCE_AFTER;
use super::endpoint::ConnectConfig;
use super::load::peak_ewma::{LINKERD_DECAY, LINKERD_DEFAULT_RTT};
use super::outlier::{ENVOY_PANIC_THRESHOLD, OutlierConfig};
use super::retry::{
    ENVOY_BACKOFF_BASE, ENVOY_BACKOFF_MAX, ENVOY_MAX_CONCURRENT_RETRIES, RetryConfig,
};
use crate::strategy::{Features, Mesh, PolicyName, SidecarBase, SidecarSpec};
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

/// Everything one sidecar is configured with.
#[derive(Debug, Clone)]
pub struct SidecarConfig {
    /// Balancer, health and weights.
    pub balance: BalanceConfig,
    /// Endpoint connections.
    pub connect: ConnectConfig,
    /// Retries.
    pub retry: RetryConfig,
    /// Whole-request timeout (all tries), if any.
    pub request_timeout: Option<Duration>,
    /// Endpoint-change propagation delay.
    pub discovery_delay: Duration,
}

fn envoy_retry(max_concurrent: u32) -> RetryConfig {
    RetryConfig {
        max_retries: ISTIO_RETRIES,
        idempotent: false,
        budget: None,
        max_concurrent_retries: Some(max_concurrent),
        backoff: Some((ENVOY_BACKOFF_BASE, ENVOY_BACKOFF_MAX)),
        per_try_timeout: None,
        avoid_previous_hosts: true,
    }
}

fn linkerd_retry() -> RetryConfig {
    RetryConfig {
        max_retries: LINKERD_RETRY_LIMIT,
        idempotent: false,
        budget: Some(BudgetConfig::default()),
        max_concurrent_retries: None,
        backoff: None,
        per_try_timeout: None,
        avoid_previous_hosts: false,
    }
}

// === impl SidecarConfig ===

impl SidecarConfig {
    /// Resolves a strategy's sidecar spec into settings.
    pub fn resolve(spec: SidecarSpec, weights: BTreeMap<String, u32>) -> Self {
        let mut config = match spec.base {
            SidecarBase::Policy(policy) => Self::plain(policy),
            SidecarBase::Mesh(mesh) => Self::mesh(mesh),
        };
        config.balance.weights = weights;
        config.apply(spec.features, spec.base);
        config
    }

    fn plain(policy: PolicyName) -> Self {
        let policy = match policy {
            PolicyName::RoundRobin => Policy::RoundRobin,
            PolicyName::Random => Policy::Random,
            PolicyName::LeastRequest => Policy::LeastRequest {
                choice_count: ENVOY_CHOICE_COUNT,
            },
            PolicyName::PeakEwma => Policy::PeakEwma {
                default_rtt: LINKERD_DEFAULT_RTT,
                decay: LINKERD_DECAY,
            },
            PolicyName::Weighted => Policy::Weighted,
        };
        Self {
            balance: BalanceConfig {
                policy,
                accrual: None,
                outlier: None,
                panic_threshold: None,
                weights: BTreeMap::new(),
            },
            connect: ConnectConfig::default(),
            retry: RetryConfig::OFF,
            request_timeout: None,
            discovery_delay: DEFAULT_DISCOVERY_DELAY,
        }
    }

    fn mesh(mesh: Mesh) -> Self {
        match mesh {
            // Linkerd: P2C peak-EWMA; retries, timeouts and failure accrual
            // are opt-in; fail fast when no endpoint is available.
            Mesh::Linkerd => Self {
                discovery_delay: Duration::ZERO,
                ..Self::plain(PolicyName::PeakEwma)
            },
            // Istio: Envoy LEAST_REQUEST (Istio ≥ 1.14 default), default
            // retry policy, circuit breakers at u32::MAX, no outlier
            // detection without a DestinationRule, panic threshold 50 %.
            Mesh::Istio => {
                let mut c = Self::plain(PolicyName::LeastRequest);
                c.retry = envoy_retry(ISTIO_MAX_CONCURRENT_RETRIES);
                c.balance.panic_threshold = Some(ENVOY_PANIC_THRESHOLD);
                c.connect.timeout = ISTIO_CONNECT_TIMEOUT;
                c
            }
            // Consul: Envoy ROUND_ROBIN (no LoadBalancer in the
            // service-resolver), no retries, and outlier detection on with
            // Envoy's defaults (Consul always sends an OutlierDetection).
            Mesh::Consul => {
                let mut c = Self::plain(PolicyName::RoundRobin);
                c.balance.outlier = Some(OutlierConfig::default());
                c.balance.panic_threshold = Some(ENVOY_PANIC_THRESHOLD);
                c.connect.timeout = CONSUL_CONNECT_TIMEOUT;
                c.discovery_delay = Duration::ZERO;
                c
            }
        }
    }

    fn apply(&mut self, features: Features, base: SidecarBase) {
        let linkerd = base == SidecarBase::Mesh(Mesh::Linkerd);
        if features.retry && self.retry.max_retries == 0 {
            self.retry = if linkerd {
                linkerd_retry()
            } else {
                envoy_retry(ENVOY_MAX_CONCURRENT_RETRIES)
            };
        }
        if features.budget {
            if self.retry.max_retries == 0 {
                self.retry = linkerd_retry();
            }
            self.retry.budget = Some(BudgetConfig::default());
        }
        if features.accrual {
            self.balance.accrual = Some(AccrualConfig::default());
        }
        if features.outlier {
            self.balance.outlier = Some(OutlierConfig::default());
            self.balance.panic_threshold = Some(ENVOY_PANIC_THRESHOLD);
        }
    }

    /// Applies a scenario's `[sidecar]` overrides.
    pub fn with_overrides(mut self, o: &crate::scenario::SidecarOverrides) -> Self {
        if let Some(t) = o.request_timeout {
            self.request_timeout = Some(t.0);
        }
        if let Some(n) = o.max_retries {
            if n > 0 && self.retry.max_retries == 0 {
                // Turning retries on: Envoy-style unless the profile is
                // Linkerd's (budget set).
                self.retry = envoy_retry(ENVOY_MAX_CONCURRENT_RETRIES);
            }
            self.retry.max_retries = n;
        }
        if let Some(t) = o.per_try_timeout {
            self.retry.per_try_timeout = Some(t.0);
        }
        if let Some(i) = o.idempotent {
            self.retry.idempotent = i;
        }
        if let Some(d) = o.discovery_delay {
            self.discovery_delay = d.0;
        }
        if let (Some(k), Policy::LeastRequest { choice_count }) =
            (o.choice_count, &mut self.balance.policy)
        {
            *choice_count = k;
        }
        self
    }

    /// The resolved settings as `name → value` text, for reports.
    pub fn settings(&self) -> BTreeMap<String, String> {
        let per_try = self
            .retry
            .per_try_timeout
            .map(|t| format!("{t:?}"))
            .unwrap_or_else(|| "none".into());
        let mut s = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            s.insert(k.to_string(), v);
        };
        put(
            "balancer",
            match self.balance.policy {
                Policy::RoundRobin => "round-robin".into(),
                Policy::Random => "random".into(),
                Policy::LeastRequest { choice_count } => {
                    format!("least-request (choice_count {choice_count})")
                }
                Policy::PeakEwma { default_rtt, decay } => {
                    format!("peak-ewma (default_rtt {default_rtt:?}, decay {decay:?})")
                }
                Policy::Weighted => "weighted".into(),
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
            self.balance
                .accrual
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
            self.balance
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
