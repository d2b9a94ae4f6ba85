//! Power of two choices: sample a few endpoints at random, send to the least
//! loaded of them.
//!
//! Why: choosing the globally least-loaded endpoint needs a consistent view
//! and makes every proxy pile onto the same "best" endpoint; picking the
//! better of two random ones (Mitzenmacher) gets most of the benefit in
//! O(1), with no herding. With `Load` = requests in flight this is Envoy's
//! `LEAST_REQUEST` (`choice_count` default 2, Envoy
//! `least_request.proto`); with `Load` = peak-EWMA cost it is Linkerd's
//! balancer (and `tower::balance::p2c`).

use super::policy::{Endpoints, Named, Pick};
use super::{Candidate, Policy};
use crate::proxy::load::LoadMetric;
use crate::proxy::load::peak_ewma::{LINKERD_DECAY, LINKERD_DEFAULT_RTT};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// Envoy `LeastRequest.choice_count` default.
pub const ENVOY_CHOICE_COUNT: u32 = 2;

/// Two distinct positions in `0..n` (`n ≥ 2`), uniformly: the pair a
/// power-of-two pick compares.
pub fn distinct_pair<R: Rng + ?Sized>(n: usize, rng: &mut R) -> (usize, usize) {
    let a = rng.random_range(0..n);
    let mut b = rng.random_range(0..n - 1);
    if b >= a {
        b += 1;
    }
    (a, b)
}

/// Picks a position in `candidates` (non-empty): `choice_count` distinct
/// random candidates (all of them if there are fewer), the lowest load wins,
/// ties to the first drawn.
pub fn pick<R: Rng + ?Sized>(candidates: &[Candidate], choice_count: u32, rng: &mut R) -> usize {
    let n = candidates.len();
    let k = (choice_count.max(1) as usize).min(n);
    if n == 1 {
        return 0;
    }
    // Draw k distinct positions (partial Fisher-Yates over an index list is
    // O(n); for the common k = 2 draw directly).
    let mut best: Option<usize> = None;
    let mut consider = |i: usize| {
        best = Some(match best {
            Some(b) if candidates[b].load <= candidates[i].load => b,
            _ => i,
        });
    };
    if k == 2 {
        let (a, b) = distinct_pair(n, rng);
        consider(a);
        consider(b);
    } else {
        let mut positions: Vec<usize> = (0..n).collect();
        for j in 0..k {
            let r = rng.random_range(j..n);
            positions.swap(j, r);
            consider(positions[j]);
        }
    }
    best.unwrap_or(0)
}

/// The power-of-two-choices policy over the endpoints' load.
#[derive(Debug, Clone, Copy)]
pub struct P2c {
    /// Random candidates compared per pick.
    choice_count: u32,
}

impl Pick for P2c {
    const NAMES: &'static [Named] = &[
        // Envoy `LEAST_REQUEST`: requests in flight.
        Named {
            name: "least-request",
            sidecar: || {
                (
                    Policy::P2c {
                        choice_count: ENVOY_CHOICE_COUNT,
                    },
                    LoadMetric::PendingRequests,
                )
            },
        },
        // Linkerd: peak-EWMA cost.
        Named {
            name: "peak-ewma",
            sidecar: || {
                (
                    Policy::P2c { choice_count: 2 },
                    LoadMetric::PeakEwma {
                        default_rtt: LINKERD_DEFAULT_RTT,
                        decay: LINKERD_DECAY,
                    },
                )
            },
        },
    ];
    const LOAD_AWARE: bool = true;

    fn new(policy: &Policy, _: &mut ChaCha8Rng) -> Self {
        Self {
            choice_count: choice_count(policy),
        }
    }

    fn describe(policy: &Policy, load: &LoadMetric) -> String {
        let choice_count = choice_count(policy);
        match load {
            LoadMetric::PendingRequests => {
                format!("least-request (choice_count {choice_count})")
            }
            LoadMetric::PeakEwma { default_rtt, decay } => {
                format!("peak-ewma (default_rtt {default_rtt:?}, decay {decay:?})")
            }
            LoadMetric::Orca(_) => "p2c by ORCA weight".into(),
        }
    }

    /// Power of two choices in O(1): draw two distinct endpoints from the
    /// whole list and, if both may take the request, keep the less loaded.
    /// Conditioned on acceptance the pair is uniform over available pairs,
    /// exactly what drawing from the filtered candidate list gives, so this
    /// is rejection sampling, not an approximation; on rejection (an
    /// endpoint backing off, ejected or to avoid) the candidate path
    /// decides. Not used with a panic threshold, whose "route to all when
    /// too few are healthy" needs the healthy count.
    #[inline]
    fn pick_fast<E: Endpoints + ?Sized>(
        &mut self,
        endpoints: &E,
        avoid: &[String],
        now: Instant,
        rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let n = endpoints.count();
        if self.choice_count != 2 || n < 2 {
            return None;
        }
        let (a, b) = distinct_pair(n, rng);
        let usable = |i: usize| {
            !avoid.iter().any(|h| h == endpoints.name(i)) && endpoints.is_available(i, now)
        };
        if !usable(a) || !usable(b) {
            return None;
        }
        Some(if endpoints.load(a) <= endpoints.load(b) {
            a
        } else {
            b
        })
    }

    fn pick(&mut self, candidates: &[Candidate], _: Instant, rng: &mut ChaCha8Rng) -> usize {
        pick(candidates, self.choice_count, rng)
    }
}

/// The candidates `policy` compares per pick (Envoy's default for any other
/// policy, which never asks).
fn choice_count(policy: &Policy) -> u32 {
    match *policy {
        Policy::P2c { choice_count } => choice_count,
        _ => ENVOY_CHOICE_COUNT,
    }
}
