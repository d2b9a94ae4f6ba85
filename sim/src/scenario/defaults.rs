//! Default values of scenario settings.
//!
//! serde's `#[serde(default = "…")]` takes a function path, and the
//! `Default` impls of the config tables must agree with it, so each default
//! is one function here that both use; `scenarios/README.md` documents the
//! same values.

use super::service_time::ServiceTimeConfig;
use super::streams::StreamLimit;
use super::{GRPC_MIN_DNS_RESOLUTION_INTERVAL, SimDuration};
use std::num::NonZeroU32;
use std::time::Duration;
use stockdata::transport::{ClientH2, ServerH2};

/// `crash-node` detection: kube-controller-manager's
/// `--node-monitor-grace-period` (40 s).
pub const NODE_MONITOR_GRACE_PERIOD: Duration = Duration::from_secs(40);
/// Time from a pod's process start to ready (`ready_after`).
pub const READY_AFTER: Duration = Duration::from_secs(1);
/// Rolling restart: time from endpoint removal to kill (`grace`).
pub const GRACE: Duration = Duration::from_secs(1);
/// Rolling restart: extra pods during the rollout (`max_surge`).
pub const MAX_SURGE: u32 = 1;

/// The time series' bucket for a run whose load lasts `length`: 100 ms
/// under 10 s (a 1 s fault spans ten points), 1 s under 5 minutes, 10 s
/// beyond (about 30 points a minute at most).
pub fn series_bucket(length: Duration) -> Duration {
    if length < Duration::from_secs(10) {
        Duration::from_millis(100)
    } else if length < Duration::from_secs(300) {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(10)
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::MIN.saturating_add(n.saturating_sub(1))
}
pub fn seed() -> u64 {
    1
}
pub fn tick() -> SimDuration {
    SimDuration(Duration::from_millis(1))
}
pub fn time_limit() -> SimDuration {
    SimDuration(Duration::from_secs(600))
}
pub fn nodes() -> NonZeroU32 {
    nz(3)
}
pub fn latency() -> SimDuration {
    SimDuration(Duration::from_millis(1))
}
pub fn stockdata_replicas() -> NonZeroU32 {
    nz(2)
}
pub fn concurrency() -> NonZeroU32 {
    nz(8)
}
pub fn service_time() -> ServiceTimeConfig {
    ServiceTimeConfig::Exponential {
        mean: SimDuration(Duration::from_millis(2)),
    }
}
pub fn stockweb_replicas() -> NonZeroU32 {
    NonZeroU32::MIN
}
pub fn dns_refresh() -> SimDuration {
    SimDuration(GRPC_MIN_DNS_RESOLUTION_INTERVAL)
}
pub fn yes() -> bool {
    true
}
pub fn drain() -> SimDuration {
    SimDuration(Duration::from_secs(10))
}
pub fn page_loads() -> u64 {
    10
}
pub fn interval() -> SimDuration {
    SimDuration(Duration::from_millis(100))
}
pub fn start() -> SimDuration {
    SimDuration(Duration::from_millis(100))
}

pub fn stockdata_max_concurrent_streams() -> StreamLimit {
    StreamLimit(ServerH2::HYPER.max_concurrent_streams)
}
pub fn server_stream_window() -> u32 {
    ServerH2::HYPER.initial_stream_window
}
pub fn server_connection_window() -> u32 {
    ServerH2::HYPER.initial_connection_window
}
pub fn client_stream_window() -> u32 {
    ClientH2::HYPER.initial_stream_window
}
pub fn client_connection_window() -> u32 {
    ClientH2::HYPER.initial_connection_window
}
