//! Strategy names: parsing, display, error messages and `--help`, all
//! from one list of base names ([`bases`]), so a name cannot be accepted
//! but printed differently, or listed but not accepted. The
//! `sidecar:<policy>` names come from the proxy's policy registry.

use super::{
    Features, Mesh, PeerPolicy, PeerProxy, PeerSpec, PolicyName, SidecarBase, SidecarSpec, Strategy,
};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// What a base name (the part before any `+feature`) stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    /// A strategy without a sidecar; it takes no features.
    Client(Strategy),
    /// A sidecar starting from this base.
    Sidecar(SidecarBase),
}

/// One accepted base name.
struct BaseName<N = &'static str> {
    name: N,
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

const fn peer(proxy: PeerProxy, policy: PeerPolicy) -> Base {
    Base::Client(Strategy::Peer(PeerSpec { proxy, policy }))
}

/// Every base name, in the order errors and `--help` list them: the
/// client strategies, `sidecar` (short for `sidecar:round-robin`), one
/// `sidecar:<policy>` per registered policy, the meshes and the peers.
fn bases() -> impl Iterator<Item = BaseName<Cow<'static, str>>> {
    let policies = PolicyName::all().map(|p| BaseName {
        name: Cow::Owned(format!("{POLICY_PREFIX}{}", p.name())),
        base: Base::Sidecar(SidecarBase::Policy(p)),
        shorthand: false,
        help: "",
    });
    let shorthand = PolicyName::named("round-robin").map(|p| BaseName {
        name: Cow::Borrowed("sidecar"),
        base: Base::Sidecar(SidecarBase::Policy(p)),
        shorthand: true,
        help: "",
    });
    CLIENTS
        .iter()
        .map(BaseName::listed)
        .chain(shorthand)
        .chain(policies)
        .chain(MESHES_AND_PEERS.iter().map(BaseName::listed))
}

impl BaseName {
    fn listed(&self) -> BaseName<Cow<'static, str>> {
        BaseName {
            name: Cow::Borrowed(self.name),
            base: self.base,
            shorthand: self.shorthand,
            help: self.help,
        }
    }
}

/// The strategies without a sidecar.
const CLIENTS: &[BaseName] = &[
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
];

/// The mesh profiles and the real proxies.
const MESHES_AND_PEERS: &[BaseName] = &[
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
    BaseName {
        shorthand: true,
        ..name("caddy", peer(PeerProxy::Caddy, PeerPolicy::RoundRobin))
    },
    BaseName {
        help: "real mode: Caddy as the sidecar (h2c, round_robin)",
        ..name(
            "caddy:round-robin",
            peer(PeerProxy::Caddy, PeerPolicy::RoundRobin),
        )
    },
    BaseName {
        help: "real mode: Caddy as the sidecar (least_conn)",
        ..name(
            "caddy:least-request",
            peer(PeerProxy::Caddy, PeerPolicy::LeastRequest),
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
pub fn names() -> impl Iterator<Item = Cow<'static, str>> {
    bases().map(|b| b.name)
}

/// Feature suffixes, without the `+`.
pub fn feature_names() -> impl Iterator<Item = &'static str> {
    FEATURES.iter().map(|(name, _)| *name)
}

/// `items` joined with ", " into lines of at most `width` characters (an
/// item longer than that gets a line of its own).
fn wrap(items: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for item in items {
        match lines.last_mut() {
            Some(line) if line.len() + 2 + item.len() < width => {
                line.push_str(", ");
                line.push_str(item);
            }
            Some(line) => {
                line.push(',');
                lines.push(item.clone());
            }
            None => lines.push(item.clone()),
        }
    }
    lines
}

/// The `Strategies:` section of `meshsim run --help`.
pub fn help() -> String {
    let column = |left: &str, right: &str| format!("  {left:<24}{right}\n");
    let mut out = String::from("Strategies:\n");
    for b in bases().filter(|b| matches!(b.base, Base::Client(c) if !c.is_real_only())) {
        out.push_str(&column(&b.name, b.help));
    }
    let sidecars = |policies: bool| -> Vec<String> {
        bases()
            .filter(|b| !b.shorthand)
            .filter_map(|b| match b.base {
                Base::Sidecar(SidecarBase::Policy(_)) if policies => {
                    b.name.strip_prefix(POLICY_PREFIX).map(str::to_string)
                }
                Base::Sidecar(SidecarBase::Mesh(_)) if !policies => Some(b.name.into_owned()),
                _ => None,
            })
            .collect()
    };
    let shorthands = bases()
        .filter(|b| b.shorthand && matches!(b.base, Base::Sidecar(_)))
        .map(|b| format!("{} = {}", b.name, Canonical(b.base)))
        .collect::<Vec<_>>()
        .join(", ");
    out.push_str(&column(
        &format!("{POLICY_PREFIX}<policy>"),
        "outbound sidecar balancing each request; <policy> is",
    ));
    for line in wrap(&sidecars(true), 80 - 26) {
        out.push_str(&column("", &line));
    }
    out.push_str(&column("", &format!("({shorthands})")));
    out.push_str(&column(
        &sidecars(false).join(", "),
        "the sidecar with that mesh's documented defaults",
    ));
    out.push_str(&column(
        "nginx, haproxy, caddy",
        "real mode only: Debian's nginx, haproxy or Caddy as the",
    ));
    out.push_str(&column(
        "",
        "sidecar, :round-robin (the default) or :least-request",
    ));
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

/// The name a base is printed with (written, not built: reports print
/// strategies often).
fn canonical(f: &mut fmt::Formatter<'_>, base: Base) -> fmt::Result {
    if let Base::Sidecar(SidecarBase::Policy(p)) = base {
        f.write_str(POLICY_PREFIX)?;
        return f.write_str(p.name());
    }
    let name = CLIENTS
        .iter()
        .chain(MESHES_AND_PEERS)
        .find(|b| b.base == base && !b.shorthand)
        .map_or("", |b| b.name);
    f.write_str(name)
}

/// A base's canonical name, as a value.
struct Canonical(Base);

impl fmt::Display for Canonical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        canonical(f, self.0)
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let mut parts = s.split('+');
        let base = parts.next().unwrap_or_default();
        let features_list = || feature_names().collect::<Vec<_>>().join(", +");
        let Some(entry) = bases().find(|b| b.name == base) else {
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
            client => return canonical(f, Base::Client(*client)),
        };
        canonical(f, Base::Sidecar(spec.base))?;
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
