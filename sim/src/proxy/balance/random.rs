//! Random: each request to a uniformly chosen available endpoint.
//!
//! Envoy's `RANDOM`. Stateless, so many proxies do not synchronise the way
//! round-robin cursors can; on average as even as round robin, with more
//! variance per page.

use super::Candidate;
use rand::Rng;

/// Picks a uniformly random position in `candidates` (non-empty).
pub fn pick<R: Rng + ?Sized>(candidates: &[Candidate], rng: &mut R) -> usize {
    rng.random_range(0..candidates.len())
}
