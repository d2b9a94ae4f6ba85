//! Client strategies: how StockWeb's calls reach StockData.
//!
//! | name | what it models |
//! |---|---|
//! | `cached-dns` | resolve once, one HTTP/2 connection (the seed's HttpClient) |
//! | `kube-proxy` | connect to the service's virtual IP; each *connection* goes to a random ready pod |
//! | `client-rr` | gRPC client-side round robin over a headless-service DNS answer, re-resolved after a connection failure, at most once per `stockweb.dns_refresh` |
//! | `sidecar:<policy>[+feature…]` | an outbound sidecar balancing each request with `<policy>` |
//! | `linkerd`, `istio`, `consul` \[`+feature…`\] | the sidecar with that mesh's documented defaults |
//!
//! Policies: those the proxy registers ([`crate::proxy::balance::POLICIES`]:
//! `round-robin`, `random`, `least-request`, `peak-ewma`, `weighted`,
//! `wrr`). Features: `retry`, `profile-retry`, `route-retry`, `budget`,
//! `accrual`, `outlier`.
//! `sidecar` alone means `sidecar:round-robin`.

mod names;

pub use names::{feature_names, help, names};

use crate::proxy::SidecarConfig;
use crate::proxy::balance;
use crate::proxy::load::LoadMetric;
use std::collections::BTreeMap;
use std::fmt;

/// One way of getting StockWeb's calls to StockData.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    /// Resolve once, keep one HTTP/2 connection to the first answer.
    CachedDns,
    /// Connect to a virtual IP; kube-proxy picks a random ready pod per
    /// connection.
    KubeProxy,
    /// Client-side round robin over all resolved addresses.
    ClientRr,
    /// One address at a time, the next after a failure.
    PinUntilError,
    /// An outbound sidecar.
    Sidecar(SidecarSpec),
    /// A real proxy (nginx, haproxy or Caddy) as the sidecar: real mode only.
    Peer(PeerSpec),
}

/// A real proxy in the sidecar's place, and its balancing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerSpec {
    /// Which proxy.
    pub proxy: PeerProxy,
    /// How it balances.
    pub policy: PeerPolicy,
}

/// Real proxies meshsim can run as peers (Debian's packages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerProxy {
    /// nginx, `grpc_pass` to an upstream.
    Nginx,
    /// haproxy, `mode http` with `proto h2` servers.
    Haproxy,
    /// Caddy, `reverse_proxy` over h2c.
    Caddy,
}

impl PeerProxy {
    /// The HTTP/2 streams per connection the peer's listener advertises:
    /// nginx's `http2_max_concurrent_streams` default, 128 (ngx_http_v2_module);
    /// haproxy 2.6's `tune.h2.max-concurrent-streams` default, 100;
    /// Caddy 2.6 leaves Go's HTTP/2 server at its default, 250
    /// (golang.org/x/net/http2 `defaultMaxStreams`; its SETTINGS frame says
    /// 250, read with `nghttp -nv`).
    pub fn max_concurrent_streams(self) -> u32 {
        match self {
            Self::Nginx => 128,
            Self::Haproxy => 100,
            Self::Caddy => 250,
        }
    }
}

/// A peer's balancing, named as meshsim's own policies are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerPolicy {
    /// nginx's default / haproxy `balance roundrobin` / Caddy
    /// `lb_policy round_robin`.
    RoundRobin,
    /// nginx `least_conn` / haproxy `balance leastconn` / Caddy
    /// `lb_policy least_conn`.
    LeastRequest,
}

impl Strategy {
    /// Whether the strategy runs only in real mode (an external process).
    pub fn is_real_only(&self) -> bool {
        matches!(self, Strategy::Peer(_))
    }

    /// Whether the strategy weights replicas by their ORCA load reports, so
    /// the replicas must attach them.
    pub fn reads_load_reports(&self) -> bool {
        matches!(
            self,
            Strategy::Sidecar(SidecarSpec {
                base: SidecarBase::Policy(p),
                ..
            }) if p.reads_load_reports()
        )
    }

    /// The name of meshsim's own sidecar that a peer strategy sits next to
    /// (`nginx:round-robin` → `sidecar:round-robin`).
    pub fn own_counterpart(&self) -> Option<Strategy> {
        let Strategy::Peer(p) = self else {
            return None;
        };
        Some(Strategy::Sidecar(SidecarSpec {
            base: SidecarBase::Policy(PolicyName::named(match p.policy {
                PeerPolicy::RoundRobin => "round-robin",
                PeerPolicy::LeastRequest => "least-request",
            })?),
            features: Features::default(),
        }))
    }
}

/// A sidecar: a base configuration and optional features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SidecarSpec {
    /// The balancing policy or mesh profile.
    pub base: SidecarBase,
    /// Features turned on beyond the base's defaults.
    pub features: Features,
}

/// What a sidecar starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SidecarBase {
    /// A bare balancing policy, everything else off.
    Policy(PolicyName),
    /// A mesh's documented defaults.
    Mesh(Mesh),
}

/// A balancing policy, by its place in the proxy's registry
/// ([`crate::proxy::balance::POLICIES`]): a policy registered there is a
/// `sidecar:<policy>` strategy with no change here. Ordered as registered.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyName(u8);

impl PolicyName {
    /// The policy registered as `name` (the part after `sidecar:`).
    pub fn named(name: &str) -> Option<Self> {
        let i = balance::names().position(|n| n.name == name)?;
        Some(Self(u8::try_from(i).ok()?))
    }

    /// Every registered policy, in registration order.
    pub fn all() -> impl Iterator<Item = Self> {
        (0..balance::names().count()).filter_map(|i| u8::try_from(i).ok().map(Self))
    }

    /// The name after `sidecar:`.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// The bare sidecar it stands for.
    pub fn config(self) -> SidecarConfig {
        SidecarConfig::policy(self.name()).unwrap_or_else(|| unreachable!("a registered policy"))
    }

    /// Whether the endpoints measure their load from ORCA load reports.
    fn reads_load_reports(self) -> bool {
        matches!((self.entry().sidecar)().1, LoadMetric::Orca(_))
    }

    fn entry(self) -> &'static balance::Named {
        balance::names()
            .nth(usize::from(self.0))
            .unwrap_or_else(|| unreachable!("made from the registry"))
    }
}

impl fmt::Debug for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PolicyName").field(&self.name()).finish()
    }
}

/// Meshes with a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mesh {
    /// Linkerd 2.
    Linkerd,
    /// Istio (Envoy sidecars).
    Istio,
    /// Consul service mesh (Envoy sidecars).
    Consul,
}

/// Optional sidecar features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Features {
    /// Retries (Envoy-style: Istio's default policy; Linkerd-style on
    /// `linkerd`: limit 1 and a budget, a mix of Linkerd's two retry
    /// systems kept for existing scenario files). On `consul` this is
    /// Istio's default policy: Consul ships none of its own.
    pub retry: bool,
    /// Linkerd ServiceProfile retries: a retry budget (ratio 0.2, 10/s,
    /// TTL 10 s), no per-request limit, no backoff. Wins over the others,
    /// as a ServiceProfile's retries win over route annotations in Linkerd.
    pub profile_retry: bool,
    /// Linkerd 2.16+ HTTPRoute/annotation retries: limit 1 per request,
    /// exponential backoff 25 ms…250 ms (jitter 1.0), no budget.
    pub route_retry: bool,
    /// A Linkerd retry budget (implies retries).
    pub budget: bool,
    /// Linkerd failure accrual.
    pub accrual: bool,
    /// Envoy outlier detection.
    pub outlier: bool,
}

// === resolution: strategy → sidecar settings ===

impl SidecarSpec {
    /// The sidecar settings this spec names: the base policy or mesh
    /// profile, then each feature, in a fixed order (profile-retry,
    /// route-retry, retry, budget, accrual, outlier: the first retry feature
    /// wins), with per-pod `weights` for the weighted policy.
    pub fn config(&self, weights: BTreeMap<String, u32>) -> SidecarConfig {
        let mut config = match self.base {
            SidecarBase::Policy(p) => p.config(),
            SidecarBase::Mesh(Mesh::Linkerd) => SidecarConfig::linkerd(),
            SidecarBase::Mesh(Mesh::Istio) => SidecarConfig::istio(),
            SidecarBase::Mesh(Mesh::Consul) => SidecarConfig::consul(),
        };
        config.balance.weights = weights;
        let f = self.features;
        if f.profile_retry {
            config = config.with_profile_retries();
        }
        if f.route_retry {
            config = config.with_route_retries();
        }
        if f.retry {
            config = if self.linkerd_style_retries() {
                config.with_linkerd_retries()
            } else {
                config.with_envoy_retries()
            };
        }
        if f.budget {
            config = config.with_budget();
        }
        if f.accrual {
            config = config.with_accrual();
        }
        if f.outlier {
            config = if self.base == SidecarBase::Mesh(Mesh::Istio) {
                config.with_destination_rule_outlier()
            } else {
                config.with_outlier()
            };
        }
        config
    }

    /// Whether retries turned on for this sidecar are Linkerd's (budget, no
    /// backoff) rather than Envoy's: on the `linkerd` profile.
    pub fn linkerd_style_retries(&self) -> bool {
        self.base == SidecarBase::Mesh(Mesh::Linkerd)
    }
}

#[cfg(test)]
mod tests;
