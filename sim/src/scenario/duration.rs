//! Durations in scenario files: `"100us"`, `"2ms"`, `"1.5s"`, `"10m"`.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration written as a number and a unit: `ns`, `us` (or `µs`), `ms`,
/// `s`, `m` or `h`. The number may have a fraction (`1.5s`); the result is
/// truncated to whole nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SimDuration(pub Duration);

/// What a duration string must look like, for error messages.
pub const EXPECTED: &str = "a duration such as \"250us\", \"2ms\", \"1.5s\" or \"10m\"";

impl FromStr for SimDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        stockdata::spec::parse_duration_expecting(s, EXPECTED).map(SimDuration)
    }
}

impl fmt::Display for SimDuration {
    /// The shortest exact spelling: `1s`, `250ms`, `100us` or `7ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.as_nanos();
        if n == 0 {
            write!(f, "0s")
        } else if n.is_multiple_of(1_000_000_000) {
            write!(f, "{}s", n / 1_000_000_000)
        } else if n.is_multiple_of(1_000_000) {
            write!(f, "{}ms", n / 1_000_000)
        } else if n.is_multiple_of(1_000) {
            write!(f, "{}us", n / 1_000)
        } else {
            write!(f, "{n}ns")
        }
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SimDuration, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let ms = |s: &str| s.parse::<SimDuration>().map(|d| d.0.as_nanos());
        assert_eq!(ms("100us"), Ok(100_000));
        assert_eq!(ms("100µs"), Ok(100_000));
        assert_eq!(ms("2ms"), Ok(2_000_000));
        assert_eq!(ms("1.5s"), Ok(1_500_000_000));
        assert_eq!(ms("10m"), Ok(600_000_000_000));
        assert_eq!(ms("7ns"), Ok(7));
        assert!(ms("5").is_err());
        assert!(ms("ms").is_err());
        assert!(ms("5 parsecs").is_err());
        assert!(ms("-5ms").is_err());
    }

    #[test]
    fn displays_shortest_exact_form() {
        for s in ["1s", "250ms", "100us", "7ns", "1500ms", "0s"] {
            let d: SimDuration = s.parse().expect("valid");
            assert_eq!(d.to_string(), s);
        }
    }
}
