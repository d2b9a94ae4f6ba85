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
//! Policies: `round-robin`, `random`, `least-request`, `peak-ewma`,
//! `weighted`. Features: `retry`, `profile-retry`, `route-retry`, `budget`,
//! `accrual`, `outlier`.
//! `sidecar` alone means `sidecar:round-robin`.

use crate::proxy::SidecarConfig;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

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
    /// A real proxy (nginx or haproxy) as the sidecar: real mode only.
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
}

impl PeerProxy {
    /// The HTTP/2 streams per connection the peer's listener advertises:
    /// nginx's `http2_max_concurrent_streams` default, 128 (ngx_http_v2_module);
    /// haproxy 2.6's `tune.h2.max-concurrent-streams` default, 100.
    pub fn max_concurrent_streams(self) -> u32 {
        match self {
            Self::Nginx => 128,
            Self::Haproxy => 100,
        }
    }
}

/// A peer's balancing, named as meshsim's own policies are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerPolicy {
    /// nginx's default / haproxy `balance roundrobin`.
    RoundRobin,
    /// nginx `least_conn` / haproxy `balance leastconn`.
    LeastRequest,
}

const fn peer(proxy: PeerProxy, policy: PeerPolicy) -> Base {
    Base::Client(Strategy::Peer(PeerSpec { proxy, policy }))
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
                base: SidecarBase::Policy(PolicyName::Wrr),
                ..
            })
        )
    }

    /// The name of meshsim's own sidecar that a peer strategy sits next to
    /// (`nginx:round-robin` → `sidecar:round-robin`).
    pub fn own_counterpart(&self) -> Option<Strategy> {
        let Strategy::Peer(p) = self else {
            return None;
        };
        Some(Strategy::Sidecar(SidecarSpec {
            base: SidecarBase::Policy(match p.policy {
                PeerPolicy::RoundRobin => PolicyName::RoundRobin,
                PeerPolicy::LeastRequest => PolicyName::LeastRequest,
            }),
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

/// Balancing policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyName {
    /// Each request to the next endpoint.
    RoundRobin,
    /// Uniformly random endpoint.
    Random,
    /// P2C on requests in flight (Envoy least-request).
    LeastRequest,
    /// P2C on peak-EWMA cost (Linkerd).
    PeakEwma,
    /// Random by pod weight.
    Weighted,
    /// Weighted round robin by ORCA load reports (gRPC
    /// `weighted_round_robin`).
    Wrr,
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

/// What a base name (the part before any `+feature`) stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    /// A strategy without a sidecar; it takes no features.
    Client(Strategy),
    /// A sidecar starting from this base.
    Sidecar(SidecarBase),
}

/// One accepted base name.
struct BaseName {
    name: &'static str,
    base: Base,
    /// Accepted on input but never printed (`sidecar`).
    shorthand: bool,
    /// One line for `--help` (client strategies only; the sidecar names are
    /// listed by group).
    help: &'static str,
}

const fn name(name: &'static str, base: Base) -> BaseName {
    BaseName {
        name,
        base,
        shorthand: false,
        help: "",
    }
}

const fn policy(p: PolicyName) -> Base {
    Base::Sidecar(SidecarBase::Policy(p))
}

/// Every base name, in the order errors and `--help` list them. Parsing,
/// [`fmt::Display`], error messages and help text all read this one table,
/// so a name cannot be accepted but printed differently, or listed but not
/// accepted.
const BASES: &[BaseName] = &[
    BaseName {
        help: "resolve once, one HTTP/2 connection (the seed's HttpClient)",
        ..name("cached-dns", Base::Client(Strategy::CachedDns))
    },
    BaseName {
        help: "service VIP; each connection to a random ready pod",
        ..name("kube-proxy", Base::Client(Strategy::KubeProxy))
    },
    BaseName {
        help: "gRPC client-side round robin over a headless service",
        ..name("client-rr", Base::Client(Strategy::ClientRr))
    },
    BaseName {
        help: "one address until a server error, then the next (dialogue)",
        ..name("pin-until-error", Base::Client(Strategy::PinUntilError))
    },
    BaseName {
        shorthand: true,
        ..name("sidecar", policy(PolicyName::RoundRobin))
    },
    name("sidecar:round-robin", policy(PolicyName::RoundRobin)),
    name("sidecar:random", policy(PolicyName::Random)),
    name("sidecar:least-request", policy(PolicyName::LeastRequest)),
    name("sidecar:peak-ewma", policy(PolicyName::PeakEwma)),
    name("sidecar:weighted", policy(PolicyName::Weighted)),
    name("sidecar:wrr", policy(PolicyName::Wrr)),
    name("linkerd", Base::Sidecar(SidecarBase::Mesh(Mesh::Linkerd))),
    name("istio", Base::Sidecar(SidecarBase::Mesh(Mesh::Istio))),
    name("consul", Base::Sidecar(SidecarBase::Mesh(Mesh::Consul))),
    BaseName {
        shorthand: true,
        ..name("nginx", peer(PeerProxy::Nginx, PeerPolicy::RoundRobin))
    },
    BaseName {
        help: "real mode: nginx as the sidecar (grpc_pass, round robin)",
        ..name(
            "nginx:round-robin",
            peer(PeerProxy::Nginx, PeerPolicy::RoundRobin),
        )
    },
    BaseName {
        help: "real mode: nginx as the sidecar (least_conn)",
        ..name(
            "nginx:least-request",
            peer(PeerProxy::Nginx, PeerPolicy::LeastRequest),
        )
    },
    BaseName {
        shorthand: true,
        ..name("haproxy", peer(PeerProxy::Haproxy, PeerPolicy::RoundRobin))
    },
    BaseName {
        help: "real mode: haproxy as the sidecar (proto h2, roundrobin)",
        ..name(
            "haproxy:round-robin",
            peer(PeerProxy::Haproxy, PeerPolicy::RoundRobin),
        )
    },
    BaseName {
        help: "real mode: haproxy as the sidecar (leastconn)",
        ..name(
            "haproxy:least-request",
            peer(PeerProxy::Haproxy, PeerPolicy::LeastRequest),
        )
    },
];

/// The prefix of policy names.
const POLICY_PREFIX: &str = "sidecar:";

/// The flag a feature suffix sets.
type Flag = fn(&mut Features) -> &mut bool;

/// Feature suffixes, in the order [`fmt::Display`] writes them, with the
/// flag each sets.
const FEATURES: &[(&str, Flag)] = &[
    ("retry", |f| &mut f.retry),
    ("profile-retry", |f| &mut f.profile_retry),
    ("route-retry", |f| &mut f.route_retry),
    ("budget", |f| &mut f.budget),
    ("accrual", |f| &mut f.accrual),
    ("outlier", |f| &mut f.outlier),
];

/// Every accepted base name, for error messages and `--help`.
pub fn names() -> impl Iterator<Item = &'static str> {
    BASES.iter().map(|b| b.name)
}

/// Feature suffixes, without the `+`.
pub fn feature_names() -> impl Iterator<Item = &'static str> {
    FEATURES.iter().map(|(name, _)| *name)
}

/// The `Strategies:` section of `meshsim run --help`.
pub fn help() -> String {
    let column = |left: &str, right: &str| format!("  {left:<24}{right}\n");
    let mut out = String::from("Strategies:\n");
    for b in BASES
        .iter()
        .filter(|b| matches!(b.base, Base::Client(c) if !c.is_real_only()))
    {
        out.push_str(&column(b.name, b.help));
    }
    let sidecars = |policies: bool| -> Vec<&str> {
        BASES
            .iter()
            .filter(|b| !b.shorthand)
            .filter_map(|b| match b.base {
                Base::Sidecar(SidecarBase::Policy(_)) if policies => {
                    b.name.strip_prefix(POLICY_PREFIX)
                }
                Base::Sidecar(SidecarBase::Mesh(_)) if !policies => Some(b.name),
                _ => None,
            })
            .collect()
    };
    let shorthands = BASES
        .iter()
        .filter(|b| b.shorthand && matches!(b.base, Base::Sidecar(_)))
        .map(|b| format!("{} = {}", b.name, canonical(b.base)))
        .collect::<Vec<_>>()
        .join(", ");
    out.push_str(&column(
        &format!("{POLICY_PREFIX}<policy>"),
        "outbound sidecar balancing each request; <policy> is",
    ));
    out.push_str(&column("", &sidecars(true).join(", ")));
    out.push_str(&column("", &format!("({shorthands})")));
    out.push_str(&column(
        &sidecars(false).join(", "),
        "the sidecar with that mesh's documented defaults",
    ));
    out.push_str(&column(
        "nginx, haproxy",
        "real mode only: Debian's nginx or haproxy as the sidecar,",
    ));
    out.push_str(&column("", ":round-robin (the default) or :least-request"));
    out.push_str(&format!(
        "  +{}\n",
        feature_names().collect::<Vec<_>>().join(" +")
    ));
    out.push_str(&column(
        "",
        "turn on retries (Linkerd's ServiceProfile or HTTPRoute",
    ));
    out.push_str(&column(
        "",
        "retries), a retry budget, failure accrual or outlier",
    ));
    out.push_str(&column("", "detection, e.g. linkerd+route-retry+accrual"));
    out
}

/// The name a base is printed with.
fn canonical(base: Base) -> &'static str {
    BASES
        .iter()
        .find(|b| b.base == base && !b.shorthand)
        .map_or("", |b| b.name)
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let mut parts = s.split('+');
        let base = parts.next().unwrap_or_default();
        let features_list = || feature_names().collect::<Vec<_>>().join(", +");
        let Some(entry) = BASES.iter().find(|b| b.name == base) else {
            return Err(format!(
                "unknown strategy `{s}`; expected one of {}, optionally with +{}",
                names().collect::<Vec<_>>().join(", "),
                features_list()
            ));
        };
        let sidecar_base = match entry.base {
            Base::Client(strategy) => {
                if parts.next().is_some() {
                    return Err(format!(
                        "`{base}` takes no +features (they configure a sidecar)"
                    ));
                }
                return Ok(strategy);
            }
            Base::Sidecar(b) => b,
        };
        let mut features = Features::default();
        for f in parts {
            let Some((_, flag)) = FEATURES.iter().find(|(name, _)| *name == f) else {
                return Err(format!(
                    "unknown feature `+{f}` in `{s}`; expected +{}",
                    features_list()
                ));
            };
            let on = flag(&mut features);
            if *on {
                return Err(format!(
                    "feature `+{f}` is repeated in `{s}`; expected each feature at most once"
                ));
            }
            *on = true;
        }
        Ok(Strategy::Sidecar(SidecarSpec {
            base: sidecar_base,
            features,
        }))
    }
}

impl fmt::Display for Strategy {
    /// The canonical name used in reports (features in a fixed order).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = match self {
            Strategy::Sidecar(spec) => spec,
            client => return f.write_str(canonical(Base::Client(*client))),
        };
        f.write_str(canonical(Base::Sidecar(spec.base)))?;
        let mut features = spec.features;
        for (name, flag) in FEATURES {
            if *flag(&mut features) {
                write!(f, "+{name}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for Strategy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

// === resolution: strategy → sidecar settings ===

impl SidecarSpec {
    /// The sidecar settings this spec names: the base policy or mesh
    /// profile, then each feature, in a fixed order (profile-retry,
    /// route-retry, retry, budget, accrual, outlier: the first retry feature
    /// wins), with per-pod `weights` for the weighted policy.
    pub fn config(&self, weights: BTreeMap<String, u32>) -> SidecarConfig {
        let mut config = match self.base {
            SidecarBase::Policy(PolicyName::RoundRobin) => SidecarConfig::round_robin(),
            SidecarBase::Policy(PolicyName::Random) => SidecarConfig::random(),
            SidecarBase::Policy(PolicyName::LeastRequest) => SidecarConfig::least_request(),
            SidecarBase::Policy(PolicyName::PeakEwma) => SidecarConfig::peak_ewma(),
            SidecarBase::Policy(PolicyName::Weighted) => SidecarConfig::weighted(),
            SidecarBase::Policy(PolicyName::Wrr) => SidecarConfig::wrr(),
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
