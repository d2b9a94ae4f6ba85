//! Random: each request to a uniformly chosen available endpoint.
//!
//! Envoy's `RANDOM`. Stateless, so many proxies do not synchronise the way
//! round-robin cursors can; on average as even as round robin, with more
//! variance per page.

use super::policy::{Endpoints, Named, Pick};
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

    /// One draw over the whole list, kept if that endpoint may take the
    /// request: O(1), no allocation. With every endpoint available (the
    /// usual case) it is the same draw as [`pick`] over the candidates,
    /// so the same endpoint; otherwise it is rejection sampling (uniform
    /// over the available ones given acceptance) and a rejected draw
    /// leaves the pick to the candidate path. A request with endpoints to
    /// avoid (a retry) goes to the candidate path at once, as before.
    #[inline]
    fn pick_fast<E: Endpoints + ?Sized>(
        &mut self,
        endpoints: &E,
        avoid: &[String],
        now: Instant,
        rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let n = endpoints.count();
        if n == 0 || !avoid.is_empty() {
            return None;
        }
        let i = rng.random_range(0..n);
        endpoints.is_available(i, now).then_some(i)
    }

    fn pick(&mut self, candidates: &[Candidate], _: Instant, rng: &mut ChaCha8Rng) -> usize {
        pick(candidates, rng)
    }
}
