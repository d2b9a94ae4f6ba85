//! `unready`: the pod fails its readiness probe for a while. The control
//! plane takes it out of its Service's endpoints; its process keeps
//! running and answers whoever still sends to it (a client that resolved
//! DNS once does), as kubelet's readiness probes behave: a failed probe
//! removes the pod from endpoints and does not restart it.

use super::super::EventError;
use super::super::check::Known;
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::chaos_ms;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `unready`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unready {
    /// The pod.
    pub pod: String,
    /// How long it fails readiness.
    pub duration: Duration,
}

impl Kind for Unready {
    const KEYS: &'static [&'static str] = &["pod", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Later;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        Ok(Unready {
            pod: f.stockdata_pod()?,
            duration: f.duration()?,
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        known.pod(&self.pod)
    }

    /// A pod's window: a kill, pause or slow of the same pod may not
    /// overlap it (a kill's restart would make the pod ready again early).
    fn window(&self, _hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        Some((vec![format!("pod {}", self.pod)], self.duration))
    }

    fn pod(&self) -> Option<&str> {
        Some(&self.pod)
    }

    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        out.now(Step::SetReady(self.pod.clone(), false));
        out.after(self.duration, Step::SetReady(self.pod.clone(), true));
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let duration = chaos_ms(rng, 100, 600);
        format!("pod = \"{}\"\nduration = {duration}\n", pick.pod)
    }
}
