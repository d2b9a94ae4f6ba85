//! Where a run happens. The run loop is [`crate::driver`]'s, once; a
//! backend supplies only how time passes, how nodes and links change and
//! how the load reaches StockWeb:
//! - [`sim`]: turmoil's deterministic network, stepped tick by tick;
//! - [`real`]: this machine's loopback sockets in real time, links emulated
//!   in user space.

pub mod real;
pub mod sim;

use crate::cluster::kubelet::PodTable;
use crate::control::ControlPlane;
use crate::driver::{DriveError, StrategyRun};
use crate::scenario::Scenario;
use crate::strategy::Strategy;
use crate::topology::{STOCKDATA, STOCKWEB};

/// Ready pods of both services: what either backend's start-up waits on.
fn ready_pods(control: &ControlPlane) -> usize {
    [STOCKDATA, STOCKWEB]
        .iter()
        .map(|s| control.ready_endpoints(s).len())
        .sum()
}

/// The first pod that failed to start, as the run's error.
fn pod_failure(table: &PodTable) -> Result<(), DriveError> {
    match table.failures().first() {
        Some(failure) => Err(DriveError(format!("pod failed: {failure}"))),
        None => Ok(()),
    }
}

/// Which backend a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The deterministic simulator.
    Simulated,
    /// Real sockets on this machine.
    Real,
}

/// Runs `strategy` of `scenario` in a fresh cluster on `mode`'s backend.
pub fn run_strategy(
    mode: Mode,
    scenario: &Scenario,
    strategy: Strategy,
    seed: u64,
) -> Result<StrategyRun, DriveError> {
    match mode {
        Mode::Simulated => sim::run_strategy(scenario, strategy, seed),
        Mode::Real => real::run_strategy(scenario, strategy, seed),
    }
}
