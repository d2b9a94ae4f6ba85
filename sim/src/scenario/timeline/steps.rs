//! The cluster's primitive steps: what a timeline event expands into.
//!
//! Each kind expands an occurrence into steps at run times (a `slow` is
//! "set factor" then "reset factor"); the cluster applies each step when
//! it is due (`cluster::actions`). A new kind is usually new steps in a
//! new order; a new step is a new verb the cluster must learn.

use super::Links;
use std::time::Duration;
use stockdata::faults::{ErrorFault, OverloadFault};

/// A primitive change to the running cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The pod's process dies.
    KillPod(String),
    /// Deletes a pod for good (a rollout's old pod, a scale-down).
    DeletePod(String),
    /// The pod's process starts; ready after the duration.
    StartPod(String, Duration),
    /// Takes the pod out of its endpoints (a failed readiness probe, or
    /// graceful termination begins) or puts it back.
    SetReady(String, bool),
    /// Multiplies a StockData pod's service times.
    SetSlowdown(String, f64),
    /// Stops or resumes a StockData pod's processing.
    SetPaused(String, bool),
    /// Sets or clears a StockData pod's error fault.
    SetErrors(String, Option<ErrorFault>),
    /// Sets or clears a StockData pod's overload fault.
    SetOverload(String, Option<OverloadFault>),
    /// On every StockData pod alive then.
    SetFlakes(Option<ErrorFault>),
    /// The node stops; its packets vanish.
    CrashNode(usize),
    /// The control plane marks a crashed node's pods not ready.
    NodePodsUnready(usize),
    /// The node starts again.
    RestartNode(usize),
    /// No packets between the two sides.
    Partition(Vec<String>, Vec<String>),
    /// Packets between the two sides again.
    Heal(Vec<String>, Vec<String>),
    /// Sets or clears segment loss between the two sides.
    SetLoss(Vec<String>, Vec<String>, Option<f64>),
    /// Sets the one-way latency of the links.
    SetLatency(Links, Duration),
    /// StockData's replica count becomes this; new pods ready after.
    Scale(u32, Duration),
    /// One more StockData pod, ready after.
    AddPod(Duration),
    /// StockData's pods replaced one at a time (planned when it begins).
    RollingRestart {
        /// A new pod first (`max_surge = 1`) or a restart in place.
        surge: bool,
        /// From process start to ready.
        ready_after: Duration,
        /// From endpoint removal to kill.
        grace: Duration,
    },
}

/// The steps of one occurrence at `at`: the first is the event's own (the
/// report lists it under the event's label), the rest follow it.
pub struct Steps {
    at: Duration,
    list: Vec<(Duration, Step)>,
}

impl Steps {
    /// No steps yet, for an occurrence at `at`.
    pub fn new(at: Duration) -> Self {
        Self {
            at,
            list: Vec::new(),
        }
    }

    /// `step` at the occurrence's time.
    pub fn now(&mut self, step: Step) {
        self.list.push((self.at, step));
    }

    /// `step` `after` the occurrence's time.
    pub fn after(&mut self, after: Duration, step: Step) {
        self.list.push((self.at + after, step));
    }

    /// The steps in the order they were added, with their times.
    pub fn into_vec(self) -> Vec<(Duration, Step)> {
        self.list
    }
}
