//! Client strategies: how StockWeb's calls reach StockData.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// One way of getting StockWeb's calls to StockData.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    /// The seed's baseline: resolve the service name once, keep one HTTP/2
    /// connection to the first address for the handler's lifetime.
    CachedDns,
    /// An outbound sidecar proxy in the StockWeb pod balances every request
    /// across the service's ready endpoints.
    Sidecar(Balancer),
}

/// The per-request balancing policy of a sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Balancer {
    /// Each request to the next endpoint in turn.
    RoundRobin,
}

/// Every accepted spelling, for error messages and `--help`.
pub const NAMES: &[&str] = &["cached-dns", "sidecar", "sidecar:round-robin"];

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "cached-dns" => Ok(Strategy::CachedDns),
            "sidecar" | "sidecar:round-robin" => Ok(Strategy::Sidecar(Balancer::RoundRobin)),
            other => Err(format!(
                "unknown strategy `{other}`; expected one of {}",
                NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for Strategy {
    /// The canonical name used in reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::CachedDns => f.write_str("cached-dns"),
            Strategy::Sidecar(Balancer::RoundRobin) => f.write_str("sidecar:round-robin"),
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
}
