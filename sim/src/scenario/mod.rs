//! Scenario files: what to simulate and which strategies to compare.
//!
//! A scenario is TOML, parsed with `deny_unknown_fields` everywhere so a
//! misspelt key is an error rather than a silently ignored setting. Every
//! field is documented in `scenarios/README.md`; defaults are listed there
//! and on each field below.
//!
//! Errors name the file, line and column and what was expected
//! (`scenarios/x.toml:7:12: invalid value: integer `-2`, expected a nonzero u32`).
//!
//! The parts, each small enough to read at once: `config` is the file's
//! shape (the serde structs), `defaults` the values of omitted keys,
//! `validate` the checks types cannot make, and [`timeline`] the events,
//! turned from their flat TOML form into typed actions once, at load. This
//! module ties them together: load, parse, name, hash. Pod and node names
//! come from [`crate::topology`], shared with the simulator that builds
//! them, so a scenario can be checked without the simulator.

mod config;
mod defaults;
mod duration;
mod error;
mod overrides;
mod service_time;
mod streams;
pub mod timeline;
mod validate;

#[cfg(test)]
mod tests;

pub use config::{
    Arrival, ClusterConfig, LoadConfig, Model, ReportConfig, SidecarOverrides, StockDataConfig,
    StockWebConfig, Target, Think, WorkloadConfig,
};
pub use duration::SimDuration;
pub use error::ScenarioError;
pub use service_time::ServiceTimeConfig;
pub use streams::StreamLimit;
pub use timeline::{EventKind, TimelineEvent};

pub use crate::topology::MAX_NODES;
pub use config::Scenario;

use crate::topology::{self, INGRESS, STOCKDATA, STOCKWEB};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

/// The bundled demo scenario, so `meshsim run` works from any directory.
pub const BUNDLED_DEMO: &str = include_str!("../../../scenarios/stockweb-demo.toml");
/// The path the bundled demo is reported under.
pub const BUNDLED_DEMO_PATH: &str = "scenarios/stockweb-demo.toml";

/// grpc's minimum interval between DNS re-resolutions (grpc/grpc-go
/// `internal/resolver/dns/dns_resolver.go`, `MinResolutionInterval`, 30 s):
/// a minimum gap, not a period. The resolver re-resolves only on
/// `ResolveNow` (a subchannel's connection failure or GOAWAY), and not
/// sooner than this after its previous resolution.
pub const GRPC_MIN_DNS_RESOLUTION_INTERVAL: Duration = Duration::from_secs(30);

/// Largest service-time multiplier (`stockdata.slowdown`, a `slow` event's
/// `factor`): a 2 ms request becomes 2000 s, already longer than any run.
pub const MAX_SLOWDOWN: f64 = 1e6;

/// Most page loads a `[load]` schedule may have: each is a page of 100
/// calls held in memory until the report is written, so 100,000 pages are
/// 10M calls, the same as the open loop's `MAX_REQUESTS`.
pub const MAX_PAGE_LOADS: u64 = 100_000;

/// Most requests an open-loop workload may issue.
pub const MAX_REQUESTS: u64 = 10_000_000;
pub use crate::topology::MAX_IN_FLIGHT;

// === impl Scenario ===

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let shown = path.display().to_string();
        let bytes = crate::input::read_bounded(path, crate::input::MAX_SCENARIO_BYTES).map_err(
            |error| ScenarioError::Read {
                path: shown.clone(),
                error,
            },
        )?;
        let text =
            std::str::from_utf8(&bytes).map_err(|e| ScenarioError::not_utf8(&shown, &bytes, &e))?;
        Self::parse(text, &shown)
    }

    /// Parses and validates scenario text; `path` is used in errors and for
    /// the default name.
    pub fn parse(text: &str, path: &str) -> Result<Self, ScenarioError> {
        let mut scenario: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError::from_toml(path, text, &e))?;
        if scenario.name.is_none() {
            let stem = Path::new(path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".to_string());
            scenario.name = Some(stem);
        }
        scenario.source = text.to_string();
        scenario.validate(path).map_err(|e| e.located(text))?;
        Ok(scenario)
    }
    /// Pod names the scenario can refer to: StockData pods up to the
    /// largest replica count it ever asks for, and the StockWeb pods.
    pub fn known_pods(&self) -> Vec<String> {
        let most = self
            .timeline
            .iter()
            .filter_map(|e| match e.action() {
                timeline::Action::Scale(scale) => Some(scale.replicas),
                _ => None,
            })
            .fold(self.stockdata.replicas.get(), u32::max);
        (0..most)
            .map(|i| topology::pod_name(STOCKDATA, i))
            .chain((0..self.stockweb.replicas.get()).map(|j| topology::pod_name(STOCKWEB, j)))
            .collect()
    }

    /// Node names, plus the browser's host.
    pub fn known_hosts(&self) -> Vec<String> {
        (0..self.cluster.nodes.get())
            .map(|n| topology::node_name(n as usize))
            .chain(std::iter::once(INGRESS.to_string()))
            .collect()
    }

    /// When the run ends (requests stop being issued); events must happen
    /// before.
    pub fn run_end(&self) -> Duration {
        match &self.workload {
            Some(w) => w.duration.0,
            None => self.schedule().last(),
        }
    }
    /// The time series' bucket: `report.series_bucket`, or the default for
    /// the run's length.
    pub fn series_bucket(&self) -> Duration {
        self.report
            .series_bucket
            .map_or_else(|| defaults::series_bucket(self.run_end()), |b| b.0)
    }

    /// The measured window's length: the workload's `duration` less its
    /// `warmup`, or the page schedule (`page_loads` × `interval`), over
    /// which the report's throughput is taken (the drain after it is not).
    pub fn measured_window(&self) -> Duration {
        match &self.workload {
            Some(w) => w.duration.0.saturating_sub(w.warmup.0),
            None => self
                .load
                .interval
                .0
                .saturating_mul(u32::try_from(self.load.page_loads).unwrap_or(u32::MAX)),
        }
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("scenario")
    }

    /// Page-load start times.
    pub fn schedule(&self) -> loadgen::FixedInterval {
        loadgen::FixedInterval {
            start: self.load.start.0,
            interval: self.load.interval.0,
            count: self.load.page_loads,
        }
    }

    /// SHA-256 (hex) of the resolved scenario with the seed left out, so a
    /// report can say exactly what ran and `--seed` runs stay comparable.
    pub fn hash(&self) -> String {
        let mut canonical = self.clone();
        canonical.seed = 0;
        // Serialising plain data (strings, numbers, lists) cannot fail.
        let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}
