//! What a timeline event does, typed: one variant per kind, carrying
//! exactly the settings that kind takes, with defaults applied.
//!
//! This is what the simulator reads. Keeping it apart from the file's flat
//! form means a setting cannot be silently ignored or defaulted twice: a
//! `slow` has a factor and a duration, a `kill-pod` does not.

#[cfg(doc)]
use crate::topology::MAX_PODS_PER_SERVICE;
use std::time::Duration;
use stockdata::faults::{ErrorFault, OverloadFault};

/// What an event does, with exactly the settings its kind takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `kill-pod`: the pod's process dies.
    KillPod {
        /// The pod.
        pod: String,
        /// Restarts after this long, if set.
        duration: Option<Duration>,
        /// From the restart to ready.
        ready_after: Duration,
    },
    /// `restart` with `pod`: a killed pod starts again.
    RestartPod {
        /// The pod.
        pod: String,
        /// From process start to ready.
        ready_after: Duration,
    },
    /// `restart` with `node`: a crashed node starts again.
    RestartNode {
        /// The node's index (`node-2` → 2).
        node: usize,
    },
    /// `crash-node`: everything on the node stops, its packets vanish.
    CrashNode {
        /// The node's index.
        node: usize,
        /// When the control plane marks the node's pods not ready.
        detect_after: Duration,
        /// Restarts after this long, if set.
        duration: Option<Duration>,
    },
    /// `slow`: a StockData pod's service times are multiplied.
    Slow {
        /// The pod.
        pod: String,
        /// The multiplier (above 0).
        factor: f64,
        /// How long.
        duration: Duration,
    },
    /// `pause`: a StockData pod stops processing.
    Pause {
        /// The pod.
        pod: String,
        /// How long.
        duration: Duration,
    },
    /// `latency`: extra one-way latency on some links.
    Latency {
        /// The links.
        links: Links,
        /// Added to the cluster's latency.
        add: Duration,
        /// How long.
        duration: Duration,
    },
    /// `partition`: `nodes` cannot reach `from`.
    Partition {
        /// One side (at least one host).
        nodes: Vec<String>,
        /// The other side.
        from: Peers,
        /// Heals after this long, if set.
        duration: Option<Duration>,
    },
    /// `heal`: undoes a partition.
    Heal {
        /// One side.
        nodes: Vec<String>,
        /// The other side.
        from: Peers,
    },
    /// `loss`: segments between the sides are lost with a probability.
    Loss {
        /// One side.
        nodes: Vec<String>,
        /// The other side.
        from: Peers,
        /// Loss probability, 0 to 1.
        rate: f64,
        /// Ends after this long, if set.
        duration: Option<Duration>,
    },
    /// `scale`: StockData's replica count changes.
    Scale {
        /// The new count (1 to [`MAX_PODS_PER_SERVICE`]).
        replicas: u32,
        /// For new pods: from process start to ready.
        ready_after: Duration,
    },
    /// `errors`: a StockData pod answers errors.
    Errors {
        /// The pod.
        pod: String,
        /// Which, how often, when.
        fault: ErrorFault,
        /// How long.
        duration: Duration,
    },
    /// `overload`: a StockData pod refuses requests above a load.
    Overload {
        /// The pod.
        pod: String,
        /// The limit and the status.
        fault: OverloadFault,
        /// How long.
        duration: Duration,
    },
    /// `flakes`: every StockData pod answers errors.
    Flakes {
        /// Which, how often, when.
        fault: ErrorFault,
        /// How long.
        duration: Duration,
    },
    /// `rolling-restart`: StockData's pods are replaced one at a time.
    RollingRestart {
        /// `max_surge = 1`: a new pod first, then the old one leaves;
        /// `0`: each pod restarts in place.
        surge: bool,
        /// From process start to ready.
        ready_after: Duration,
        /// From endpoint removal to kill.
        grace: Duration,
    },
}

impl Action {
    /// The StockData pod an event on one pod targets, if it is one.
    pub fn stockdata_pod(&self) -> Option<&String> {
        match self {
            Action::Slow { pod, .. }
            | Action::Pause { pod, .. }
            | Action::Errors { pod, .. }
            | Action::Overload { pod, .. } => Some(pod),
            _ => None,
        }
    }
}

/// The links a `latency` event changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Links {
    /// Every link of one host.
    Host(String),
    /// The one link between two hosts.
    Between(String, String),
}

/// The far side of a `partition`, `heal` or `loss`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peers {
    /// Every host not on the near side (`from` omitted).
    AllOthers,
    /// These hosts.
    Only(Vec<String>),
}
