//! `pause`: a StockData pod stops processing (a stall) for a while.

use super::super::EventError;
use super::super::check::Known;
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::chaos_ms;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `pause`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    /// The pod.
    pub pod: String,
    /// How long.
    pub duration: Duration,
}

impl Kind for Pause {
    const KEYS: &'static [&'static str] = &["pod", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        let (pod, duration) = (f.pod()?, f.duration()?);
        Ok(Pause {
            pod: f.is_stockdata(pod)?,
            duration,
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        known.pod(&self.pod)
    }

    fn window(&self, _hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        Some((vec![format!("pod {}", self.pod)], self.duration))
    }

    fn pod(&self) -> Option<&str> {
        Some(&self.pod)
    }

    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        out.now(Step::SetPaused(self.pod.clone(), true));
        out.after(self.duration, Step::SetPaused(self.pod.clone(), false));
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let duration = chaos_ms(rng, 50, 400);
        format!("pod = \"{}\"\nduration = {duration}\n", pick.pod)
    }
}
