//! `flakes`: every StockData pod answers errors, rarely, for a while.

use super::super::EventError;
use super::super::check::Known;
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use stockdata::faults::ErrorFault;

/// `flakes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Flakes {
    /// Which, how often, when.
    pub fault: ErrorFault,
    /// How long.
    pub duration: Duration,
}

impl Kind for Flakes {
    const KEYS: &'static [&'static str] = &["rate", "code", "after_service", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Errors;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        Ok(Flakes {
            fault: f.error_fault(None)?,
            duration: f.duration()?,
        })
    }

    fn check(&self, _known: &Known) -> Result<(), (&'static str, String)> {
        Ok(())
    }

    fn window(&self, _hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        Some((vec!["flakes".to_string()], self.duration))
    }

    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        out.now(Step::SetFlakes(Some(self.fault)));
        out.after(self.duration, Step::SetFlakes(None));
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let hundredths = rng.random_range(1..=9);
        format!("code = \"{}\"\nrate = 0.0{hundredths}\n", pick.code)
    }
}
