//! The requests a scenario makes: `[load]`, a fixed schedule of page
//! loads, and `[workload]`, an open or closed loop instead of it.

use crate::scenario::{SimDuration, defaults};
use serde::{Deserialize, Serialize};

/// What each workload request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// `GET /api/stocks` on StockWeb: a page load, 100 concurrent calls.
    #[default]
    Page,
    /// `GET /api/stock/{id}` on StockWeb: one call.
    Get,
}

/// Open or closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// Requests arrive on a schedule, whatever the system does.
    Open,
    /// `users` each send, wait for the answer, think, repeat.
    Closed,
}

/// Open-loop arrival spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Arrival {
    /// Evenly spaced.
    Constant,
    /// Exponential gaps (a Poisson process).
    #[default]
    Poisson,
}

/// Think-time distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Think {
    /// Always `think_time`.
    Constant,
    /// Exponential with mean `think_time`.
    #[default]
    Exponential,
}

/// `[workload]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// What a request is. Default `page`.
    #[serde(default)]
    pub target: Target,
    /// Open or closed loop. Required.
    pub model: Model,
    /// Open loop: arrival spacing. Default `poisson`.
    #[serde(default)]
    pub arrival: Arrival,
    /// Open loop: requests per second. Required for `open`.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Open loop: most requests in flight at once (wrk2's connections);
    /// later arrivals wait, and their latency still counts from when they
    /// were due. Default: unlimited.
    #[serde(default)]
    pub connections: Option<u32>,
    /// Closed loop: number of users. Required for `closed`.
    #[serde(default)]
    pub users: Option<u32>,
    /// Closed loop: mean think time between a user's requests. Default 0.
    #[serde(default)]
    pub think_time: Option<SimDuration>,
    /// Closed loop: think-time distribution. Default `exponential`.
    #[serde(default)]
    pub think: Think,
    /// How long requests are issued. Required.
    pub duration: SimDuration,
    /// Requests due before this are run but left out of latency results.
    /// Default 0.
    #[serde(default)]
    pub warmup: SimDuration,
    /// After `duration`, how long to wait for requests still in flight
    /// before counting them as in flight at the end. Default 10s.
    #[serde(default = "defaults::drain")]
    pub drain: SimDuration,
    /// `get` target: share of requests for ids that do not exist
    /// (`NOT_FOUND`). Default 0.
    #[serde(default)]
    pub not_found_ratio: f64,
}

/// The page loads a simulated browser makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadConfig {
    /// Number of page loads. Default 10.
    #[serde(default = "defaults::page_loads")]
    pub page_loads: u64,
    /// Time between the starts of two page loads (they may overlap).
    /// Default 100ms.
    #[serde(default = "defaults::interval")]
    pub interval: SimDuration,
    /// When the first page load starts, after every pod is up. Default 100ms.
    #[serde(default = "defaults::start")]
    pub start: SimDuration,
}

impl WorkloadConfig {
    /// The open loop's connection cap, `connections` or its default (the
    /// other models have none).
    pub fn connection_cap(&self) -> Option<usize> {
        (self.model == Model::Open).then(|| {
            self.connections
                .map_or(crate::topology::DEFAULT_CONNECTIONS, |c| c as usize)
        })
    }
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            page_loads: defaults::page_loads(),
            interval: defaults::interval(),
            start: defaults::start(),
        }
    }
}
