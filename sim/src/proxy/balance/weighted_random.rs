//! Weighted random: traffic split by per-endpoint weights.
//!
//! Why: canaries and traffic shifting send a chosen share of requests to
//! some endpoints (Linkerd/SMI `TrafficSplit`, Envoy `load_balancing_weight`).
//! Each request picks endpoint `i` with probability `w_i / Σw` among the
//! available endpoints; weight 0 receives nothing while others can serve.

use super::policy::{Named, Pick};
use super::{Candidate, Policy};
use crate::proxy::load::LoadMetric;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// Picks a position in `candidates` (non-empty) with probability
/// proportional to weight (uniformly if all weights are 0).
pub fn pick<R: Rng + ?Sized>(candidates: &[Candidate], rng: &mut R) -> usize {
    let total: u64 = candidates.iter().map(|c| u64::from(c.weight)).sum();
    if total == 0 {
        return rng.random_range(0..candidates.len());
    }
    let mut x = rng.random_range(0..total);
    for (i, c) in candidates.iter().enumerate() {
        let w = u64::from(c.weight);
        if x < w {
            return i;
        }
        x -= w;
    }
    candidates.len() - 1
}

/// The weighted random policy (stateless: its draws come from the
/// balancer's RNG).
#[derive(Debug, Clone, Copy, Default)]
pub struct Weighted;

impl Pick for Weighted {
    const NAMES: &'static [Named] = &[Named {
        name: "weighted",
        sidecar: || (Policy::Weighted, LoadMetric::PendingRequests),
    }];
    const LOAD_AWARE: bool = false;

    fn new(_: &Policy, _: &mut ChaCha8Rng) -> Self {
        Self
    }

    fn describe(_: &Policy, _: &LoadMetric) -> String {
        "weighted".into()
    }

    fn pick(&mut self, candidates: &[Candidate], _: Instant, rng: &mut ChaCha8Rng) -> usize {
        pick(candidates, rng)
    }
}
