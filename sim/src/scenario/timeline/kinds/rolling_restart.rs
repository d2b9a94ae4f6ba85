//! `rolling-restart`: StockData's pods are replaced one at a time.

use super::super::EventError;
use super::super::check::{Known, PodSet};
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::chaos_ms;
use crate::scenario::defaults;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `rolling-restart`.
#[derive(Debug, Clone, PartialEq)]
pub struct RollingRestart {
    /// `max_surge = 1`: a new pod first, then the old one leaves;
    /// `0`: each pod restarts in place.
    pub surge: bool,
    /// From process start to ready.
    pub ready_after: Duration,
    /// From endpoint removal to kill.
    pub grace: Duration,
}

impl Kind for RollingRestart {
    const KEYS: &'static [&'static str] = &["service", "ready_after", "max_surge", "grace"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        f.service()?;
        let surge = match f.raw.max_surge.unwrap_or(defaults::MAX_SURGE) {
            0 => false,
            1 => true,
            _ => return Err(f.invalid("max_surge", "expected 0 or 1")),
        };
        Ok(RollingRestart {
            surge,
            ready_after: f.ready_after(),
            grace: f.raw.grace.map_or(defaults::GRACE, |g| g.0),
        })
    }

    fn check(&self, _known: &Known) -> Result<(), (&'static str, String)> {
        Ok(())
    }

    /// With surge every running pod gets a new name.
    fn replay(&self, pods: &mut PodSet, _index: usize) {
        if self.surge {
            pods.replace_all();
        }
    }

    /// The rollout is planned when it begins, from the pods running then.
    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        out.now(Step::RollingRestart {
            surge: self.surge,
            ready_after: self.ready_after,
            grace: self.grace,
        });
    }

    fn chaos(rng: &mut ChaCha8Rng, _pick: &ChaosPick) -> String {
        let surge = rng.random_range(0..=1);
        let ready_after = chaos_ms(rng, 50, 200);
        let grace = chaos_ms(rng, 50, 200);
        format!(
            "service = \"stockdata\"\nmax_surge = {surge}\nready_after = {ready_after}\ngrace = {grace}\n"
        )
    }
}
