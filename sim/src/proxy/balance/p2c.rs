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

use super::Candidate;
use rand::Rng;

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
