//! `[report]`, `[sidecar]` overrides and the client's DNS refresh.

use super::{Invalid, MAX_SERIES_BUCKETS};
use crate::scenario::{Scenario, ScenarioError};

/// The report's bucket, the sidecar overrides and the client's DNS refresh.
pub(super) fn settings(s: &Scenario, v: &Invalid) -> Result<(), ScenarioError> {
    let invalid = |field: &str, message: String| v.at(field, message);
    if let Some(b) = s.report.series_bucket {
        let ms = b.0.as_millis();
        if b.0.is_zero() || b.0 != std::time::Duration::from_millis(ms as u64) {
            return Err(invalid(
                "report.series_bucket",
                format!("expected a whole number of milliseconds above 0, got {b}"),
            ));
        }
        let buckets = s.time_limit.0.as_nanos() / b.0.as_nanos();
        if buckets > MAX_SERIES_BUCKETS {
            return Err(invalid(
                "report.series_bucket",
                format!(
                    "{b} makes {buckets} buckets up to the time limit ({}); expected at most \
                     {MAX_SERIES_BUCKETS}: a wider bucket or a shorter time_limit",
                    s.time_limit
                ),
            ));
        }
    }
    if let Some(p) = s.sidecar.max_ejection_percent
        && p > 100
    {
        return Err(invalid(
            "sidecar.max_ejection_percent",
            format!("expected a percentage from 0 to 100, got {p}"),
        ));
    }
    if s.sidecar.choice_count == Some(0) {
        return Err(invalid(
            "sidecar.choice_count",
            "expected at least 1".into(),
        ));
    }
    if s.sidecar.request_timeout.is_some_and(|t| t.0.is_zero()) {
        return Err(invalid(
            "sidecar.request_timeout",
            "expected a duration above 0".into(),
        ));
    }
    if s.sidecar.per_try_timeout.is_some_and(|t| t.0.is_zero()) {
        return Err(invalid(
            "sidecar.per_try_timeout",
            "expected a duration above 0".into(),
        ));
    }
    // The load starts once the sidecars have seen the initial pods, so
    // this is also a wait before the run: bounded by the time limit.
    if let Some(d) = s.sidecar.discovery_delay
        && d.0 >= s.time_limit.0
    {
        return Err(invalid(
            "sidecar.discovery_delay",
            format!(
                "{d} is not below the time limit ({}): the load starts only after the \
                 sidecars have seen the initial pods; expected a shorter delay",
                s.time_limit
            ),
        ));
    }
    if s.stockweb.dns_refresh.0.is_zero() {
        return Err(invalid(
            "stockweb.dns_refresh",
            "expected a duration above 0".into(),
        ));
    }
    Ok(())
}
