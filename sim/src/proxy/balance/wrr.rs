//! Weighted round robin by a static stride scheduler: gRPC's
//! `weighted_round_robin` picker (gRFC A58; grpc/grpc
//! `src/core/load_balancing/weighted_round_robin/static_stride_scheduler.cc`,
//! which grpc-go's `scheduler.go` follows).
//!
//! Why a stride scheduler and not random by weight: it is deterministic
//! given its sequence number, spreads each endpoint's picks evenly over
//! time, and needs no lock per pick in gRPC. Every `weight_update_period`
//! the weights are scaled so the largest is 65,535; an endpoint without a
//! weight (no report yet, blacked out, expired) gets the mean of the others,
//! weights are capped at 10× the mean and raised to at least 1 % of it. A
//! pick takes sequence number `s`: endpoint `s mod n`, accepted in
//! generation `s div n` if `(w × generation + index × 32,767) mod 65,535 ≥
//! 65,535 − w`, so endpoint `i` is taken `w_i` times per 65,535 generations.
//! With fewer than two weights known, or all equal, it is plain round robin.

use super::policy::{Named, Pick};
use super::{Candidate, Policy};
use crate::proxy::load::{LoadMetric, OrcaConfig};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::time::Instant;

/// Largest scaled weight (`kMaxWeight`).
const MAX_WEIGHT: u64 = u16::MAX as u64;
/// Offset between endpoints' acceptance patterns (`kOffset`).
const OFFSET: u64 = MAX_WEIGHT / 2;
/// Weights are capped at this many times the mean (`kMaxRatio`).
const MAX_RATIO: f64 = 10.0;
/// And raised to at least this fraction of it (`kMinRatio`).
const MIN_RATIO: f64 = 0.01;

/// The scheduler, rebuilt from the candidates' weights every update period
/// or when the candidate set changes.
#[derive(Debug, Clone)]
pub struct Wrr {
    sequence: u64,
    built: Option<Built>,
    /// gRFC A58 `weight_update_period`.
    update_period: Duration,
}

#[derive(Debug, Clone)]
struct Built {
    at: Instant,
    /// Endpoint indexes the weights belong to.
    indexes: Vec<usize>,
    /// Scaled weights; `None`: round robin.
    weights: Option<Vec<u64>>,
}

impl Wrr {
    /// A scheduler starting at sequence number `start` (gRPC starts at a
    /// random one).
    pub fn new(start: u32) -> Self {
        Self {
            sequence: u64::from(start),
            built: None,
            update_period: OrcaConfig::default().weight_update_period,
        }
    }

    /// Picks a position in `candidates` (non-empty), whose `load` is the
    /// endpoint's weight (0: unknown).
    pub fn pick(
        &mut self,
        candidates: &[Candidate],
        now: Instant,
        update_period: std::time::Duration,
    ) -> usize {
        let stale = match &self.built {
            None => true,
            Some(b) => {
                now.saturating_duration_since(b.at) >= update_period
                    || b.indexes.len() != candidates.len()
                    || b.indexes.iter().zip(candidates).any(|(i, c)| *i != c.index)
            }
        };
        if stale {
            let raw: Vec<f64> = candidates.iter().map(|c| c.load).collect();
            self.built = Some(Built {
                at: now,
                indexes: candidates.iter().map(|c| c.index).collect(),
                weights: scale(&raw),
            });
        }
        let n = candidates.len() as u64;
        let weights = self.built.as_ref().and_then(|b| b.weights.as_ref());
        loop {
            let s = self.sequence;
            self.sequence = self.sequence.wrapping_add(1) & u64::from(u32::MAX);
            let index = s % n;
            let Some(weights) = weights else {
                return index as usize;
            };
            let w = weights[index as usize];
            let generation = s / n;
            if (w * generation + index * OFFSET) % MAX_WEIGHT >= MAX_WEIGHT - w {
                return index as usize;
            }
        }
    }
}

/// Scaled weights, or `None` for round robin (fewer than two known, or all
/// the same after scaling).
pub fn scale(raw: &[f64]) -> Option<Vec<u64>> {
    let known: Vec<f64> = raw.iter().copied().filter(|w| *w > 0.0).collect();
    if raw.len() < 2 || known.len() < 2 {
        return None;
    }
    let mean = known.iter().sum::<f64>() / known.len() as f64;
    let max = known
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .min(MAX_RATIO * mean);
    let factor = MAX_WEIGHT as f64 / max;
    let scaled_mean = (factor * mean).round() as u64;
    let floor = ((scaled_mean as f64 * MIN_RATIO).round() as u64).max(1);
    let weights: Vec<u64> = raw
        .iter()
        .map(|&w| {
            if w > 0.0 {
                ((w.min(max) * factor).round() as u64).clamp(floor, MAX_WEIGHT)
            } else {
                scaled_mean.clamp(1, MAX_WEIGHT)
            }
        })
        .collect();
    (weights.iter().any(|w| *w != weights[0])).then_some(weights)
}

impl Pick for Wrr {
    const NAMES: &'static [Named] = &[Named {
        name: "wrr",
        sidecar: || {
            let orca = OrcaConfig::default();
            (
                Policy::Wrr {
                    update_period: orca.weight_update_period,
                },
                LoadMetric::Orca(orca),
            )
        },
    }];
    const LOAD_AWARE: bool = true;

    /// gRPC starts the sequence at a random number: the one draw a policy
    /// makes at construction.
    fn new(policy: &Policy, rng: &mut ChaCha8Rng) -> Self {
        let mut wrr = Wrr::new(rng.random());
        if let Policy::Wrr { update_period } = *policy {
            wrr.update_period = update_period;
        }
        wrr
    }

    fn describe(policy: &Policy, load: &LoadMetric) -> String {
        match (policy, load) {
            (Policy::Wrr { update_period }, LoadMetric::Orca(o)) => format!(
                "wrr by ORCA load reports (weight_update_period {update_period:?}, \
                 blackout_period {:?}, weight_expiration_period {:?}, \
                 error_utilization_penalty {})",
                o.blackout_period, o.weight_expiration_period, o.error_utilization_penalty
            ),
            _ => "wrr".into(),
        }
    }

    fn pick(&mut self, candidates: &[Candidate], now: Instant, _: &mut ChaCha8Rng) -> usize {
        let update_period = self.update_period;
        Wrr::pick(self, candidates, now, update_period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::proxy::balance::candidates_with_loads as candidates;

    fn counts(loads: &[f64], picks: usize) -> Vec<usize> {
        let mut wrr = Wrr::new(12345);
        let c = candidates(loads);
        let now = Instant::now();
        let mut n = vec![0; loads.len()];
        for _ in 0..picks {
            n[wrr.pick(&c, now, Duration::from_secs(1))] += 1;
        }
        n
    }

    #[tokio::test(start_paused = true)]
    async fn picks_in_proportion_to_weight() {
        let n = counts(&[300.0, 100.0, 100.0], 50_000);
        let share = n[0] as f64 / 50_000.0;
        assert!((share - 0.6).abs() < 0.01, "{n:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_weights_get_the_mean_and_too_few_is_round_robin() {
        // [200, 0, 100]: the unknown one gets the mean, 150.
        let n = counts(&[200.0, 0.0, 100.0], 45_000);
        let shares: Vec<f64> = n.iter().map(|&k| k as f64 / 45_000.0).collect();
        assert!((shares[1] - 150.0 / 450.0).abs() < 0.01, "{shares:?}");
        assert_eq!(counts(&[500.0, 0.0, 0.0], 300), vec![100, 100, 100]);
        assert_eq!(scale(&[7.0, 7.0]), None, "all equal");
    }

    #[test]
    fn weights_are_capped_at_ten_times_the_mean() {
        let mut raw = vec![1.0; 20];
        raw[0] = 1000.0;
        let w = scale(&raw).expect("weighted");
        // Mean 50.95: the largest is capped at 509.5, scaled to 65,535.
        assert_eq!(w[0], MAX_WEIGHT);
        assert_eq!(w[1], (65535.0_f64 / 509.5).round() as u64);
    }
}
