//! Client strategies: how StockWeb's calls reach StockData.
//!
//! | name | what it models |
//! |---|---|
//! | `cached-dns` | resolve once, one HTTP/2 connection (the seed's HttpClient) |
//! | `kube-proxy` | connect to the service's virtual IP; each *connection* goes to a random ready pod |
//! | `client-rr` | gRPC client-side round robin over a headless-service DNS answer, re-resolved periodically |
//! | `sidecar:<policy>[+feature…]` | an outbound sidecar balancing each request with `<policy>` |
//! | `linkerd`, `istio`, `consul` [`+feature…`] | the sidecar with that mesh's documented defaults |
//!
//! Policies: `round-robin`, `random`, `least-request`, `peak-ewma`,
//! `weighted`. Features: `retry`, `budget`, `accrual`, `outlier`.
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
    /// An outbound sidecar.
    Sidecar(SidecarSpec),
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
    /// Retries (Envoy-style; Linkerd-style on `linkerd`).
    pub retry: bool,
    /// A Linkerd retry budget (implies retries).
    pub budget: bool,
    /// Linkerd failure accrual.
    pub accrual: bool,
    /// Envoy outlier detection.
    pub outlier: bool,
}

/// Every accepted base name, for error messages and `--help`.
pub const NAMES: &[&str] = &[
    "cached-dns",
    "kube-proxy",
    "client-rr",
    "sidecar",
    "sidecar:round-robin",
    "sidecar:random",
    "sidecar:least-request",
    "sidecar:peak-ewma",
    "sidecar:weighted",
    "linkerd",
    "istio",
    "consul",
];

/// Feature suffixes.
pub const FEATURES: &[&str] = &["retry", "budget", "accrual", "outlier"];

fn policy_name(p: PolicyName) -> &'static str {
    match p {
        PolicyName::RoundRobin => "round-robin",
        PolicyName::Random => "random",
        PolicyName::LeastRequest => "least-request",
        PolicyName::PeakEwma => "peak-ewma",
        PolicyName::Weighted => "weighted",
    }
}

fn mesh_name(m: Mesh) -> &'static str {
    match m {
        Mesh::Linkerd => "linkerd",
        Mesh::Istio => "istio",
        Mesh::Consul => "consul",
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let mut parts = s.split('+');
        let base = parts.next().unwrap_or_default();
        let unknown = || {
            format!(
                "unknown strategy `{s}`; expected one of {}, optionally with +{}",
                NAMES.join(", "),
                FEATURES.join(", +")
            )
        };
        let sidecar_base = match base {
            "cached-dns" | "kube-proxy" | "client-rr" => {
                if parts.next().is_some() {
                    return Err(format!(
                        "`{base}` takes no +features (they configure a sidecar)"
                    ));
                }
                return Ok(match base {
                    "cached-dns" => Strategy::CachedDns,
                    "kube-proxy" => Strategy::KubeProxy,
                    _ => Strategy::ClientRr,
                });
            }
            "sidecar" | "sidecar:round-robin" => SidecarBase::Policy(PolicyName::RoundRobin),
            "sidecar:random" => SidecarBase::Policy(PolicyName::Random),
            "sidecar:least-request" => SidecarBase::Policy(PolicyName::LeastRequest),
            "sidecar:peak-ewma" => SidecarBase::Policy(PolicyName::PeakEwma),
            "sidecar:weighted" => SidecarBase::Policy(PolicyName::Weighted),
            "linkerd" => SidecarBase::Mesh(Mesh::Linkerd),
            "istio" => SidecarBase::Mesh(Mesh::Istio),
            "consul" => SidecarBase::Mesh(Mesh::Consul),
            _ => return Err(unknown()),
        };
        let mut features = Features::default();
        for f in parts {
            let flag = match f {
                "retry" => &mut features.retry,
                "budget" => &mut features.budget,
                "accrual" => &mut features.accrual,
                "outlier" => &mut features.outlier,
                other => {
                    return Err(format!(
                        "unknown feature `+{other}` in `{s}`; expected +{}",
                        FEATURES.join(", +")
                    ));
                }
            };
            *flag = true;
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
        match self {
            Strategy::CachedDns => f.write_str("cached-dns"),
            Strategy::KubeProxy => f.write_str("kube-proxy"),
            Strategy::ClientRr => f.write_str("client-rr"),
            Strategy::Sidecar(spec) => {
                match spec.base {
                    SidecarBase::Policy(p) => write!(f, "sidecar:{}", policy_name(p))?,
                    SidecarBase::Mesh(m) => f.write_str(mesh_name(m))?,
                }
                let Features {
                    retry,
                    budget,
                    accrual,
                    outlier,
                } = spec.features;
                for (on, name) in [
                    (retry, "retry"),
                    (budget, "budget"),
                    (accrual, "accrual"),
                    (outlier, "outlier"),
                ] {
                    if on {
                        write!(f, "+{name}")?;
                    }
                }
                Ok(())
            }
        }
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
    /// profile, then each feature, in a fixed order (retry, budget,
    /// accrual, outlier), with per-pod `weights` for the weighted policy.
    pub fn config(&self, weights: BTreeMap<String, u32>) -> SidecarConfig {
        let mut config = match self.base {
            SidecarBase::Policy(PolicyName::RoundRobin) => SidecarConfig::round_robin(),
            SidecarBase::Policy(PolicyName::Random) => SidecarConfig::random(),
            SidecarBase::Policy(PolicyName::LeastRequest) => SidecarConfig::least_request(),
            SidecarBase::Policy(PolicyName::PeakEwma) => SidecarConfig::peak_ewma(),
            SidecarBase::Policy(PolicyName::Weighted) => SidecarConfig::weighted(),
            SidecarBase::Mesh(Mesh::Linkerd) => SidecarConfig::linkerd(),
            SidecarBase::Mesh(Mesh::Istio) => SidecarConfig::istio(),
            SidecarBase::Mesh(Mesh::Consul) => SidecarConfig::consul(),
        };
        config.balance.weights = weights;
        let f = self.features;
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
            config = config.with_outlier();
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
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in NAMES {
            let s: Strategy = name.parse().expect("valid");
            let again: Strategy = s.to_string().parse().expect("canonical parses");
            assert_eq!(s, again);
        }
        assert_eq!(
            "sidecar".parse::<Strategy>().map(|s| s.to_string()),
            Ok("sidecar:round-robin".to_string())
        );
        let err = "mesh".parse::<Strategy>().expect_err("unknown");
        assert!(err.contains("cached-dns"), "{err}");
    }

    #[test]
    fn features_are_canonicalised() {
        let s: Strategy = "istio+outlier+retry".parse().expect("valid");
        assert_eq!(s.to_string(), "istio+retry+outlier");
        assert!(
            "linkerd+turbo"
                .parse::<Strategy>()
                .expect_err("bad")
                .contains("+retry")
        );
        assert!("cached-dns+retry".parse::<Strategy>().is_err());
    }
}
