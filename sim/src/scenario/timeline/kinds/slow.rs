//! `slow`: a StockData pod's service times are multiplied for a while.

use super::super::EventError;
use super::super::check::Known;
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::chaos_ms;
use crate::scenario::MAX_SLOWDOWN;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `slow`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slow {
    /// The pod.
    pub pod: String,
    /// The multiplier (above 0).
    pub factor: f64,
    /// How long.
    pub duration: Duration,
}

impl Kind for Slow {
    const KEYS: &'static [&'static str] = &["pod", "factor", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        let pod = f.pod()?;
        let duration = f.duration()?;
        let factor = match f.raw.factor {
            Some(x) if x.is_finite() && x > 0.0 && x <= MAX_SLOWDOWN => x,
            Some(x) => {
                return Err(f.invalid(
                    "factor",
                    &format!("{x}; expected a number above 0 and at most {MAX_SLOWDOWN}"),
                ));
            }
            None => return Err(f.required("factor")),
        };
        Ok(Slow {
            pod: f.is_stockdata(pod)?,
            factor,
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
        out.now(Step::SetSlowdown(self.pod.clone(), self.factor));
        out.after(self.duration, Step::SetSlowdown(self.pod.clone(), 1.0));
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let factor = rng.random_range(2..=20);
        let duration = chaos_ms(rng, 100, 800);
        format!(
            "pod = \"{}\"\nfactor = {factor}\nduration = {duration}\n",
            pick.pod
        )
    }
}
