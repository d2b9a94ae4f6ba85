//! Weighted random: traffic split by per-endpoint weights.
//!
//! Why: canaries and traffic shifting send a chosen share of requests to
//! some endpoints (Linkerd/SMI `TrafficSplit`, Envoy `load_balancing_weight`).
//! Each request picks endpoint `i` with probability `w_i / Σw` among the
//! available endpoints; weight 0 receives nothing while others can serve.
//!
//! A pick is O(1) expected and allocates nothing: the cumulative weights
//! of the whole endpoint list and a guide table over them (Chen and Asau's
//! guide tables for inverse-transform sampling: bucket `b` of `n` names
//! the first endpoint whose range reaches `b × Σw ÷ n`) are rebuilt when
//! discovery changes the list, and a pick maps its one draw in `0..Σw` to
//! its bucket and steps from there (on average fewer than two steps). It
//! is the same draw and the same endpoint as the linear scan over the
//! candidates when every endpoint is available; when the endpoint drawn
//! is not, the candidate path decides.

use super::policy::{Endpoints, Named, Pick};
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

/// The weighted random policy: its draws come from the balancer's RNG;
/// its state is the guide table over the current endpoint list.
#[derive(Debug, Clone, Default)]
pub struct Weighted {
    table: Guide,
}

/// Cumulative weights of the endpoint list and the guide table over them.
#[derive(Debug, Clone, Default)]
pub struct Guide {
    /// `cumulative[i]`: the weights of endpoints `0..=i`.
    cumulative: Vec<u64>,
    /// `guide[b]`: the first endpoint `i` with `cumulative[i] > b × total ÷ n`.
    guide: Vec<u32>,
}

impl Guide {
    /// The table over `weights`.
    pub fn new(weights: impl Iterator<Item = u32>) -> Self {
        let mut cumulative = Vec::new();
        let mut total = 0u64;
        for w in weights {
            total += u64::from(w);
            cumulative.push(total);
        }
        let n = cumulative.len();
        let mut guide = Vec::with_capacity(n);
        let mut i = 0usize;
        for b in 0..n {
            let start = (b as u128 * u128::from(total) / n as u128) as u64;
            while i + 1 < n && cumulative[i] <= start {
                i += 1;
            }
            guide.push(i as u32);
        }
        Self { cumulative, guide }
    }

    /// How many endpoints the table covers.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Whether it covers none.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The sum of the weights.
    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The endpoint whose range holds `x` (`x < total`): the first `i`
    /// with `cumulative[i] > x`, as the linear scan of [`pick`] finds it.
    #[inline]
    pub fn find(&self, x: u64) -> usize {
        let n = self.cumulative.len();
        let total = self.total();
        let bucket = (u128::from(x) * n as u128 / u128::from(total.max(1))) as usize;
        let mut i = self.guide.get(bucket).map_or(0, |&g| g as usize);
        while i + 1 < n && self.cumulative[i] <= x {
            i += 1;
        }
        i
    }
}

impl Pick for Weighted {
    const NAMES: &'static [Named] = &[Named {
        name: "weighted",
        sidecar: || (Policy::Weighted, LoadMetric::PendingRequests),
    }];
    const LOAD_AWARE: bool = false;

    fn new(_: &Policy, _: &mut ChaCha8Rng) -> Self {
        Self::default()
    }

    fn describe(_: &Policy, _: &LoadMetric) -> String {
        "weighted".into()
    }

    fn rebuilt<E: Endpoints + ?Sized>(&mut self, endpoints: &E) {
        self.table = Guide::new((0..endpoints.count()).map(|i| endpoints.weight(i)));
    }

    /// One draw over the whole list's weights, kept if that endpoint may
    /// take the request (see the module doc); all weights 0 draws
    /// uniformly, as [`pick`] does. A request with endpoints to avoid (a
    /// retry) goes to the candidate path at once, as before.
    #[inline]
    fn pick_fast<E: Endpoints + ?Sized>(
        &mut self,
        endpoints: &E,
        avoid: &[String],
        now: Instant,
        rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let n = endpoints.count();
        if n == 0 || !avoid.is_empty() || self.table.len() != n {
            return None;
        }
        let total = self.table.total();
        let i = if total == 0 {
            rng.random_range(0..n)
        } else {
            self.table.find(rng.random_range(0..total))
        };
        endpoints.is_available(i, now).then_some(i)
    }

    fn pick(&mut self, candidates: &[Candidate], _: Instant, rng: &mut ChaCha8Rng) -> usize {
        pick(candidates, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guide table finds, for every draw, the endpoint the linear scan
    /// over the same weights finds (zeros, skew and one endpoint included).
    #[test]
    fn the_guide_table_maps_every_draw_as_the_linear_scan() {
        let cases: &[&[u32]] = &[
            &[1],
            &[1, 1, 1],
            &[0, 5, 0, 1, 0],
            &[1000, 1, 1, 1, 1, 1],
            &[1, 1, 1, 1, 1, 1000],
            &[3, 0, 0, 7, 2, 9, 1],
        ];
        for weights in cases {
            let candidates: Vec<Candidate> = weights
                .iter()
                .enumerate()
                .map(|(index, &weight)| Candidate {
                    index,
                    load: 0.0,
                    weight,
                })
                .collect();
            let table = Guide::new(weights.iter().copied());
            for x in 0..table.total() {
                let mut scan = x;
                let expected = candidates
                    .iter()
                    .position(|c| {
                        let w = u64::from(c.weight);
                        let hit = scan < w;
                        scan = scan.saturating_sub(w);
                        hit
                    })
                    .unwrap_or(candidates.len() - 1);
                assert_eq!(table.find(x), expected, "{weights:?} at {x}");
            }
        }
    }
}
