//! HTTP/2 stream limits in scenario files: a number, or `"unlimited"`.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use stockdata::transport::h2::MAX_STREAMS;

/// `SETTINGS_MAX_CONCURRENT_STREAMS` as a scenario writes it: an integer
/// from 1 to 2³¹−1, or `"unlimited"` (the server sends no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimit(pub Option<u32>);

/// What a stream limit must look like, for error messages.
pub const EXPECTED: &str = "an integer from 1 to 2147483647, or \"unlimited\"";

impl Serialize for StreamLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(n) => s.serialize_u32(n),
            None => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for StreamLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StreamLimit;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StreamLimit, E> {
                match u32::try_from(v) {
                    Ok(n) if (1..=MAX_STREAMS).contains(&n) => Ok(StreamLimit(Some(n))),
                    _ => Err(E::custom(format!("expected {EXPECTED}, got {v}"))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StreamLimit, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StreamLimit, E> {
                if v == "unlimited" {
                    Ok(StreamLimit(None))
                } else {
                    Err(E::custom(format!("expected {EXPECTED}, got {v:?}")))
                }
            }
        }
        d.deserialize_any(V)
    }
}
