//! Round robin: each request to the next available endpoint in turn.
//!
//! The simplest per-request policy, and the one the seed's demo shows: with
//! two replicas, a page's 100 calls split 50/50 however the application holds
//! its connection. It ignores load, so a slow endpoint still gets its full
//! share; that is what the load-aware policies are for. Envoy's
//! `ROUND_ROBIN` (Consul's default) skips unhealthy hosts, as this does
//! (the candidate list it is given holds only available endpoints).

use super::Candidate;

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
