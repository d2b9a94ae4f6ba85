//! `scale`: StockData's replica count changes.

use super::super::EventError;
use super::super::check::{Known, PodSet};
use super::super::fields::Fields;
use super::super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::super::steps::{Step, Steps};
use super::chaos_ms;
use crate::topology::MAX_PODS_PER_SERVICE;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    /// The new count (1 to [`MAX_PODS_PER_SERVICE`]).
    pub replicas: u32,
    /// For new pods: from process start to ready.
    pub ready_after: Duration,
}

impl Kind for Scale {
    const KEYS: &'static [&'static str] = &["service", "replicas", "ready_after"];
    const CHAOS: ChaosDraw = ChaosDraw::Cluster;

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        let replicas = f.raw.replicas.ok_or_else(|| f.required("replicas"))?;
        if f.raw.service.is_some() {
            f.service()?;
        }
        if !(1..=MAX_PODS_PER_SERVICE).contains(&replicas) {
            return Err(f.invalid(
                "replicas",
                &format!("expected 1 to {MAX_PODS_PER_SERVICE}, got {replicas}"),
            ));
        }
        Ok(Scale {
            replicas,
            ready_after: f.ready_after(),
        })
    }

    fn check(&self, _known: &Known) -> Result<(), (&'static str, String)> {
        Ok(())
    }

    /// Up: the next fresh indices. Down: the newest running pods go.
    fn replay(&self, pods: &mut PodSet, index: usize) {
        let have = pods.running();
        for _ in have..self.replicas {
            pods.add();
        }
        pods.remove_newest(have.saturating_sub(self.replicas) as usize, index);
    }

    fn steps(&self, _cx: &Expand<'_>, out: &mut Steps) {
        out.now(Step::Scale(self.replicas, self.ready_after));
    }

    fn chaos(rng: &mut ChaCha8Rng, _pick: &ChaosPick) -> String {
        let replicas = rng.random_range(1..=6);
        let ready_after = chaos_ms(rng, 50, 300);
        format!("service = \"stockdata\"\nreplicas = {replicas}\nready_after = {ready_after}\n")
    }
}
