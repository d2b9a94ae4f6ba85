//! Least connections: every request to the endpoint with the fewest
//! requests in flight, ties taken in turn.
//!
//! The policy of the C proxies meshsim runs as peers, so the simulator can
//! model them: nginx's `least_conn` passes a request "to the server with
//! the least number of active connections … If there are several such
//! servers, they are tried in turn using a weighted round-robin balancing
//! method" (nginx docs, `ngx_http_upstream_module`, `least_conn`; source
//! `ngx_http_upstream_least_conn_module.c`), and haproxy's `balance
//! leastconn` likewise performs round robin "within groups of servers of the
//! same load" (haproxy configuration manual, `balance`). Unlike [`super::p2c`]
//! it scans every endpoint (O(n) a pick) and so herds when many proxies
//! share one view; a single proxy in front of a few replicas is the case
//! it is built for. Weights are not modelled (every endpoint weighs 1, as
//! in the peers' configurations meshsim writes).

use super::policy::{Named, Pick};
use super::{Candidate, Policy};
use crate::proxy::load::LoadMetric;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// The cursor that takes ties in turn.
#[derive(Debug, Clone, Default)]
pub struct LeastConn {
    next: usize,
}

impl Pick for LeastConn {
    const NAMES: &'static [Named] = &[Named {
        name: "least-conn",
        sidecar: || (Policy::LeastConn, LoadMetric::PendingRequests),
    }];
    const LOAD_AWARE: bool = true;

    fn new(_: &Policy, _: &mut ChaCha8Rng) -> Self {
        Self::default()
    }

    fn describe(_: &Policy, _: &LoadMetric) -> String {
        "least-conn (fewest requests in flight, ties in turn)".into()
    }

    /// The first candidate at or after the cursor (cyclically) whose load
    /// is the lowest; the cursor moves past it.
    fn pick(&mut self, candidates: &[Candidate], _: Instant, _: &mut ChaCha8Rng) -> usize {
        let n = candidates.len();
        let least = candidates
            .iter()
            .map(|c| c.load)
            .fold(f64::INFINITY, f64::min);
        let start = self.next % n;
        let chosen = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| candidates[i].load <= least)
            .unwrap_or(start);
        self.next = chosen.wrapping_add(1);
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    use crate::proxy::balance::candidates_with_loads as candidates;

    #[test]
    fn the_least_loaded_wins_and_ties_go_in_turn() {
        let mut p = LeastConn::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let now = Instant::now();
        // One least loaded: always it.
        let c = candidates(&[3.0, 1.0, 2.0]);
        assert_eq!(
            (0..4)
                .map(|_| p.pick(&c, now, &mut rng))
                .collect::<Vec<_>>(),
            [1, 1, 1, 1]
        );
        // Three tied: in turn, from past the last pick.
        let c = candidates(&[0.0, 0.0, 0.0]);
        assert_eq!(
            (0..4)
                .map(|_| p.pick(&c, now, &mut rng))
                .collect::<Vec<_>>(),
            [2, 0, 1, 2]
        );
        // Two tied of three: the turn skips the loaded one.
        let c = candidates(&[0.0, 5.0, 0.0]);
        assert_eq!(
            (0..4)
                .map(|_| p.pick(&c, now, &mut rng))
                .collect::<Vec<_>>(),
            [0, 2, 0, 2]
        );
    }
}
