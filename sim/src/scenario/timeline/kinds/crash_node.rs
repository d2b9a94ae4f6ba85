//! `crash-node`: everything on the node stops and its packets vanish; the
//! control plane notices after `detect_after`.

use super::super::EventError;
use super::super::check::Known;
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::chaos_ms;
use crate::scenario::defaults;
use crate::topology;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `crash-node`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashNode {
    /// The node's index.
    pub node: usize,
    /// When the control plane marks the node's pods not ready.
    pub detect_after: Duration,
    /// Restarts after this long, if set.
    pub duration: Option<Duration>,
}

impl Kind for CrashNode {
    // No `ready_after`: the node's pods come back as the node restarts
    // (it was once accepted here and silently ignored).
    const KEYS: &'static [&'static str] = &["node", "detect_after", "duration"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        let name = f.raw.node.as_deref().ok_or_else(|| f.required("node"))?;
        Ok(CrashNode {
            node: f.node(name)?,
            detect_after: f
                .raw
                .detect_after
                .map_or(defaults::NODE_MONITOR_GRACE_PERIOD, |d| d.0),
            duration: f.optional_duration(),
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        known.node(self.node)
    }

    fn window(&self, _hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        let d = self.duration?;
        Some((vec![format!("node {}", topology::node_name(self.node))], d))
    }

    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        out.now(Step::CrashNode(self.node));
        out.after(self.detect_after, Step::NodePodsUnready(self.node));
        if let Some(d) = self.duration {
            out.after(d, Step::RestartNode(self.node));
        }
    }

    fn chaos(rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
        let duration = chaos_ms(rng, 200, 800);
        let detect_after = chaos_ms(rng, 100, 500);
        format!(
            "node = \"{}\"\nduration = {duration}\ndetect_after = {detect_after}\n",
            pick.node
        )
    }
}
