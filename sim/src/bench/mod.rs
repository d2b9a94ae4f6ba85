/*!
`meshsim bench`: how fast the simulator, the gRPC path and the mesh run on
this machine, measured in one process so the numbers compare.

Wall-clock time is the quantity measured here, so this module (and only
this module) reads `std::time::Instant`; nothing it measures reads it.
Ratios between paths (meshed ÷ one hop, one hop ÷ raw TCP) are reported
because they transfer across machines where absolute rates do not.

Peak RSS per measurement comes from `/proc/self/status` (`VmHWM`), reset
before each one through `/proc/self/clear_refs` (Linux; elsewhere it is
reported as unknown).
*/

pub mod instructions;
pub mod paths;
pub mod scale;

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A wall-clock stopwatch (the one sanctioned use of `std::time::Instant`).
#[derive(Debug, Clone, Copy)]
#[allow(clippy::disallowed_types)]
pub struct WallClock(std::time::Instant);

#[allow(clippy::disallowed_types)]
impl WallClock {
    /// Starts now.
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    pub fn start() -> Self {
        Self(std::time::Instant::now())
    }

    /// Wall time since [`WallClock::start`].
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Operations completed in some wall and simulated time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// What was measured.
    pub name: String,
    /// Operations (round trips or requests) completed.
    pub ops: u64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Simulated time, seconds.
    pub sim_s: f64,
    /// `ops / wall_s`.
    pub per_wall_second: f64,
    /// Peak resident memory during the measurement, MiB (when known).
    #[serde(default)]
    pub peak_rss_mib: Option<f64>,
}

impl Throughput {
    /// From a count and the two durations.
    pub fn new(name: &str, ops: u64, wall: Duration, sim: Duration) -> Self {
        let wall_s = wall.as_secs_f64();
        Self {
            name: name.into(),
            ops,
            wall_s,
            sim_s: sim.as_secs_f64(),
            per_wall_second: if wall_s > 0.0 {
                ops as f64 / wall_s
            } else {
                0.0
            },
            peak_rss_mib: None,
        }
    }
}

/// Resets the peak-RSS watermark (Linux).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak RSS since the last reset, MiB (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs `f` with the peak-RSS watermark reset before and read after.
pub fn with_peak_rss<T>(f: impl FnOnce() -> Result<Throughput, T>) -> Result<Throughput, T> {
    reset_peak_rss();
    let mut t = f()?;
    t.peak_rss_mib = peak_rss_mib();
    Ok(t)
}
