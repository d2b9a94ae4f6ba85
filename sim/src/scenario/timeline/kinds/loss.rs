//! `loss`: segments between the sides are lost with a probability.

use super::super::check::{Known, links, prefixed};
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::super::{EventError, Peers};
use super::chaos_ms;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `loss`.
#[derive(Debug, Clone, PartialEq)]
pub struct Loss {
    /// One side.
    pub nodes: Vec<String>,
    /// The other side.
    pub from: Peers,
    /// Loss probability, 0 to 1.
    pub rate: f64,
    /// Ends after this long, if set.
    pub duration: Option<Duration>,
}

impl Kind for Loss {
    const KEYS: &'static [&'static str] = &["nodes", "from", "rate", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        let nodes = f.nodes()?;
        let rate = f.raw.rate.ok_or_else(|| f.required("rate"))?;
        if !(0.0..=1.0).contains(&rate) {
            return Err(f.invalid("rate", "expected a probability from 0 to 1"));
        }
        Ok(Loss {
            nodes,
            from: f.from()?,
            rate,
            duration: f.optional_duration(),
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        known.sides(&self.nodes, &self.from)
    }

    fn window(&self, hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        let d = self.duration?;
        let list = links(&self.nodes, &self.from, hosts);
        Some((prefixed("loss on", list), d))
    }

    fn steps(&self, cx: &Expand<'_>, out: &mut Steps) {
        let (a, b) = cx.sides(&self.nodes, &self.from);
        out.now(Step::SetLoss(a.clone(), b.clone(), Some(self.rate)));
        if let Some(d) = self.duration {
            out.after(d, Step::SetLoss(a, b, None));
        }
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let tenths = rng.random_range(1..=5);
        let duration = chaos_ms(rng, 100, 500);
        format!(
            "nodes = [\"{}\"]\nrate = 0.{tenths}\nduration = {duration}\n",
            pick.node
        )
    }
}
