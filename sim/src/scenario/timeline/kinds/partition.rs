//! `partition`: `nodes` cannot reach `from`; with `duration` it heals.

use super::super::check::{Known, links, prefixed};
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::super::{EventError, Peers};
use super::chaos_ms;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `partition`.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// One side (at least one host).
    pub nodes: Vec<String>,
    /// The other side.
    pub from: Peers,
    /// Heals after this long, if set.
    pub duration: Option<Duration>,
}

impl Kind for Partition {
    const KEYS: &'static [&'static str] = &["nodes", "from", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        Ok(Partition {
            nodes: f.nodes()?,
            from: f.from()?,
            duration: f.optional_duration(),
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        known.sides(&self.nodes, &self.from)
    }

    fn window(&self, hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        let d = self.duration?;
        let list = links(&self.nodes, &self.from, hosts);
        Some((prefixed("partition of", list), d))
    }

    fn steps(&self, cx: &Expand<'_>, out: &mut Steps) {
        let (a, b) = cx.sides(&self.nodes, &self.from);
        out.now(Step::Partition(a.clone(), b.clone()));
        if let Some(d) = self.duration {
            out.after(d, Step::Heal(a, b));
        }
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let duration = chaos_ms(rng, 100, 500);
        format!("nodes = [\"{}\"]\nduration = {duration}\n", pick.node)
    }
}
