//! `overload`: a StockData pod refuses requests above a load for a while.

use super::super::check::Known;
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::super::{EventError, MAX_OVERLOAD_LIMIT};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use stockdata::faults::OverloadFault;

/// `overload`.
#[derive(Debug, Clone, PartialEq)]
pub struct Overload {
    /// The pod.
    pub pod: String,
    /// The limit and the status.
    pub fault: OverloadFault,
    /// How long.
    pub duration: Duration,
}

impl Kind for Overload {
    const KEYS: &'static [&'static str] = &["pod", "code", "limit", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Errors;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        let pod = f.stockdata_pod()?;
        let limit = match f.raw.limit {
            Some(l) if (1..=MAX_OVERLOAD_LIMIT).contains(&l) => l as usize,
            Some(l) => {
                return Err(f.invalid("limit", &format!("{l}; expected 1 to {MAX_OVERLOAD_LIMIT}")));
            }
            None => return Err(f.required("limit")),
        };
        let fault = OverloadFault {
            limit,
            code: f.code(tonic::Code::ResourceExhausted)?,
        };
        Ok(Overload {
            pod,
            fault,
            duration: f.duration()?,
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        known.pod(&self.pod)
    }

    fn window(&self, _hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        Some((vec![format!("overload on {}", self.pod)], self.duration))
    }

    fn pod(&self) -> Option<&str> {
        Some(&self.pod)
    }

    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        out.now(Step::SetOverload(self.pod.clone(), Some(self.fault)));
        out.after(self.duration, Step::SetOverload(self.pod.clone(), None));
    }

    fn chaos(rng: &mut ChaCha8Rng, _pick: &ChaosPick) -> String {
        let limit = rng.random_range(1..=40);
        format!("pod = \"stockdata-0\"\nlimit = {limit}\n")
    }
}
