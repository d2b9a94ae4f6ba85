//! Random: each request to a uniformly chosen available endpoint.
//!
//! Envoy's `RANDOM`. Stateless, so many proxies do not synchronise the way
//! round-robin cursors can; on average as even as round robin, with more
//! variance per page.

use super::policy::{Named, Pick};
use super::{Candidate, Policy};
use crate::proxy::load::LoadMetric;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// Picks a uniformly random position in `candidates` (non-empty).
pub fn pick<R: Rng + ?Sized>(candidates: &[Candidate], rng: &mut R) -> usize {
    rng.random_range(0..candidates.len())
}

/// The random policy (stateless: its draws come from the balancer's RNG).
#[derive(Debug, Clone, Copy, Default)]
pub struct Random;

impl Pick for Random {
    const NAMES: &'static [Named] = &[Named {
        name: "random",
        sidecar: || (Policy::Random, LoadMetric::PendingRequests),
    }];
    const LOAD_AWARE: bool = false;

    fn new(_: &Policy, _: &mut ChaCha8Rng) -> Self {
        Self
    }

    fn describe(_: &Policy, _: &LoadMetric) -> String {
        "random".into()
    }

    fn pick(&mut self, candidates: &[Candidate], _: Instant, rng: &mut ChaCha8Rng) -> usize {
        pick(candidates, rng)
    }
}
