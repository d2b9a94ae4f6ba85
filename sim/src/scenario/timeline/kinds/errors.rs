//! `errors`: a StockData pod answers errors for a while.

use super::super::EventError;
use super::super::check::Known;
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use stockdata::faults::ErrorFault;

/// `errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct Errors {
    /// The pod.
    pub pod: String,
    /// Which, how often, when.
    pub fault: ErrorFault,
    /// How long.
    pub duration: Duration,
}

impl Kind for Errors {
    const KEYS: &'static [&'static str] = &["pod", "rate", "code", "after_service", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Errors;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        let pod = f.stockdata_pod()?;
        let fault = f.error_fault(Some(1.0))?;
        Ok(Errors {
            pod,
            fault,
            duration: f.duration()?,
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        known.pod(&self.pod)
    }

    fn window(&self, _hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        Some((vec![format!("errors on {}", self.pod)], self.duration))
    }

    fn pod(&self) -> Option<&str> {
        Some(&self.pod)
    }

    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        out.now(Step::SetErrors(self.pod.clone(), Some(self.fault)));
        out.after(self.duration, Step::SetErrors(self.pod.clone(), None));
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let tenths = rng.random_range(1..=9);
        let after_service = rng.random_bool(0.5);
        format!(
            "pod = \"stockdata-0\"\ncode = \"{}\"\nrate = 0.{tenths}\nafter_service = {after_service}\n",
            pick.code
        )
    }
}
