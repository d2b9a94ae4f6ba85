//! Round robin: each request to the next available endpoint in turn.
//!
//! The simplest per-request policy, and the one the seed's demo shows: with
//! two replicas, a page's 100 calls split 50/50 however the application holds
//! its connection. It ignores load, so a slow endpoint still gets its full
//! share; that is what the load-aware policies are for. Envoy's
//! `ROUND_ROBIN` (Consul's default) skips unhealthy hosts, as this does
//! (the candidate list it is given holds only available endpoints).

use super::policy::{Endpoints, Named, Pick};
use super::{Candidate, Policy};
use crate::proxy::load::LoadMetric;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// The round-robin cursor.
#[derive(Debug, Clone, Default)]
pub struct RoundRobin {
    next: usize,
}

impl RoundRobin {
    /// Picks a position in `candidates` (non-empty).
    pub fn pick(&mut self, candidates: &[Candidate]) -> usize {
        let i = self.next % candidates.len();
        self.next = self.next.wrapping_add(1);
        i
    }

    /// The position the next pick would take among `n` candidates, without
    /// taking it (see [`RoundRobin::taken`]).
    pub fn peek(&self, n: usize) -> usize {
        self.next % n
    }

    /// Continues after position `taken`.
    pub fn taken(&mut self, taken: usize) {
        self.next = taken.wrapping_add(1);
    }
}

impl Pick for RoundRobin {
    const NAMES: &'static [Named] = &[Named {
        name: "round-robin",
        sidecar: || (Policy::RoundRobin, LoadMetric::PendingRequests),
    }];
    const LOAD_AWARE: bool = false;

    fn new(_: &Policy, _: &mut ChaCha8Rng) -> Self {
        Self::default()
    }

    fn describe(_: &Policy, _: &LoadMetric) -> String {
        "round-robin".into()
    }

    /// Round robin over the whole endpoint list, skipping those that cannot
    /// take the request (Envoy's ROUND_ROBIN skips unhealthy hosts the same
    /// way): O(1) while they are few. With nothing to avoid this is the
    /// policy itself; the candidate path handles the rest.
    #[inline]
    fn pick_fast<E: Endpoints + ?Sized>(
        &mut self,
        endpoints: &E,
        avoid: &[String],
        now: Instant,
        _: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let n = endpoints.count();
        if !avoid.is_empty() || n == 0 {
            return None;
        }
        let start = self.peek(n);
        for k in 0..n {
            let i = (start + k) % n;
            if endpoints.is_available(i, now) {
                self.taken(i);
                return Some(i);
            }
        }
        None
    }

    fn pick(&mut self, candidates: &[Candidate], _: Instant, _: &mut ChaCha8Rng) -> usize {
        RoundRobin::pick(self, candidates)
    }
}
