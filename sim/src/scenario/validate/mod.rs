//! Scenario checks the types alone cannot make.
//!
//! serde rejects wrong types and unknown keys with a line and column; what
//! remains are ranges and rules across fields (a pod name must exist, a
//! workload must not be combined with `[load]`). Each error names the
//! dotted field it is about and what was expected.
//!
//! One file per part of the scenario; [`Scenario::validate`] runs them in
//! order and returns the first error.

mod basics;
mod network;
mod settings;
mod stockdata;
mod workload;

use super::{Scenario, ScenarioError, SimDuration};

/// Most time-series buckets a run may have (up to its time limit): each
/// is a point in report.json and in the chart.
pub const MAX_SERIES_BUCKETS: u128 = 100_000;

/// Errors about the file at `path`.
pub(super) struct Invalid<'a> {
    path: &'a str,
}

impl Invalid<'_> {
    /// The error for `field` (dotted), saying what was expected.
    fn at(&self, field: &str, message: String) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_string(),
            field: field.to_string(),
            message,
        }
    }
}

impl Scenario {
    /// Checks what the types alone cannot.
    pub fn validate(&self, path: &str) -> Result<(), ScenarioError> {
        let v = Invalid { path };
        basics::basics(self, &v)?;
        stockdata::stockdata(self, &v)?;
        network::network(self, &v)?;
        settings::settings(self, &v)?;
        workload::workload(self, &v)?;
        self.validate_timeline(path)?;
        self.schedule_ends_in_time(&v)
    }

    /// The last page load starts before the time limit.
    fn schedule_ends_in_time(&self, v: &Invalid) -> Result<(), ScenarioError> {
        let s = self;
        let invalid = |field: &str, message: String| v.at(field, message);
        let last_start = s.schedule().last();
        if last_start >= s.time_limit.0 {
            return Err(invalid(
                "time_limit",
                format!(
                    "the last page load starts at {}, not before the time limit {}; expected a larger time_limit",
                    SimDuration(last_start),
                    s.time_limit
                ),
            ));
        }
        Ok(())
    }
}
