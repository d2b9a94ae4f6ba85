//! `kill-pod`: the pod's process dies; with `duration` it starts again.

use super::super::EventError;
use super::super::check::{Known, PodSet};
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::chaos_ms;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `kill-pod`.
#[derive(Debug, Clone, PartialEq)]
pub struct KillPod {
    /// The pod.
    pub pod: String,
    /// Restarts after this long, if set.
    pub duration: Option<Duration>,
    /// From the restart to ready.
    pub ready_after: Duration,
}

impl Kind for KillPod {
    const KEYS: &'static [&'static str] = &["pod", "duration", "ready_after"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        if f.optional_duration().is_none() && f.raw.ready_after.is_some() {
            return Err(f.invalid(
                "ready_after",
                "has no effect without `duration`: the pod stays down to the end, so it \
                 never becomes ready again; expected a `duration`, or no `ready_after`",
            ));
        }
        Ok(KillPod {
            pod: f.pod()?,
            duration: f.optional_duration(),
            ready_after: f.ready_after(),
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        known.pod(&self.pod)
    }

    fn window(&self, _hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        self.duration
            .map(|d| (vec![format!("pod {}", self.pod)], d))
    }

    fn pod(&self) -> Option<&str> {
        Some(&self.pod)
    }

    /// Killed for good: no longer running.
    fn replay(&self, pods: &mut PodSet, _index: usize) {
        if self.duration.is_none() {
            pods.stop(&self.pod);
        }
    }

    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        out.now(Step::KillPod(self.pod.clone()));
        if let Some(d) = self.duration {
            out.after(d, Step::StartPod(self.pod.clone(), self.ready_after));
        }
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let duration = chaos_ms(rng, 100, 600);
        let ready_after = chaos_ms(rng, 50, 300);
        format!(
            "pod = \"{}\"\nduration = {duration}\nready_after = {ready_after}\n",
            pick.pod
        )
    }
}
