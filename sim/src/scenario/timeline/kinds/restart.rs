//! `restart`: a killed pod (`pod`) or a crashed node (`node`) starts again.

use super::super::EventError;
use super::super::check::Known;
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::chaos_ms;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `restart`: of a pod or of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Restart {
    /// With `pod`: a killed pod starts again.
    Pod {
        /// The pod.
        pod: String,
        /// From process start to ready.
        ready_after: Duration,
    },
    /// With `node`: a crashed node starts again.
    Node {
        /// The node's index (`node-2` → 2).
        node: usize,
    },
}

impl Kind for Restart {
    const KEYS: &'static [&'static str] = &["pod", "node", "ready_after"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        match (&f.raw.pod, &f.raw.node) {
            (Some(pod), None) => Ok(Restart::Pod {
                pod: pod.clone(),
                ready_after: f.ready_after(),
            }),
            (None, Some(n)) => Ok(Restart::Node { node: f.node(n)? }),
            _ => Err(f.invalid("pod", "expected exactly one of `pod` or `node`")),
        }
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        match self {
            Restart::Pod { pod, .. } => known.pod(pod),
            Restart::Node { node } => known.node(*node),
        }
    }

    fn pod(&self) -> Option<&str> {
        match self {
            Restart::Pod { pod, .. } => Some(pod),
            Restart::Node { .. } => None,
        }
    }

    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        match self {
            Restart::Pod { pod, ready_after } => out.now(Step::StartPod(pod.clone(), *ready_after)),
            Restart::Node { node } => out.now(Step::RestartNode(*node)),
        }
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let ready_after = chaos_ms(rng, 50, 300);
        format!("pod = \"{}\"\nready_after = {ready_after}\n", pick.pod)
    }
}
