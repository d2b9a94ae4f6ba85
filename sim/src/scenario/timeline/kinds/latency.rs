//! `latency`: extra one-way latency on a host's links or on one link.

use super::super::check::{Known, link, links, prefixed};
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::super::{EventError, Links, Peers};
use super::chaos_ms;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `latency`.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    /// The links.
    pub links: Links,
    /// Added to the cluster's latency.
    pub add: Duration,
    /// How long.
    pub duration: Duration,
}

impl Kind for Latency {
    const KEYS: &'static [&'static str] = &["nodes", "add", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        let nodes = f.nodes()?;
        let duration = f.duration()?;
        let add = f.raw.add.ok_or_else(|| f.required("add"))?.0;
        let links = match nodes.as_slice() {
            [a] => Links::Host(a.clone()),
            [a, b] => Links::Between(a.clone(), b.clone()),
            _ => {
                return Err(f.invalid(
                    "nodes",
                    "expected one node (all its links) or two (one link)",
                ));
            }
        };
        Ok(Latency {
            links,
            add,
            duration,
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        match &self.links {
            Links::Host(a) => known.hosts("nodes", std::slice::from_ref(a)),
            Links::Between(a, b) => known.hosts("nodes", &[a.clone(), b.clone()]),
        }
    }

    /// A host's latency is every link of the host.
    fn window(&self, hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        let list = match &self.links {
            Links::Host(a) => links(std::slice::from_ref(a), &Peers::AllOthers, hosts),
            Links::Between(a, b) => vec![link(a, b)],
        };
        Some((prefixed("latency on", list), self.duration))
    }

    fn steps(&self, cx: &Expand<'_>, out: &mut Steps) {
        let base = cx.base_latency;
        out.now(Step::SetLatency(self.links.clone(), base + self.add));
        out.after(self.duration, Step::SetLatency(self.links.clone(), base));
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let add = chaos_ms(rng, 5, 50);
        let duration = chaos_ms(rng, 100, 800);
        format!(
            "nodes = [\"{}\"]\nadd = {add}\nduration = {duration}\n",
            pick.node
        )
    }
}
