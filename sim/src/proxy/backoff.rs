//! Jittered exponential backoff, shared by connect retries and failure
//! accrual's penalties, and the waits before a request's retries
//! ([`Backoff`]: Envoy's fully jittered one, linkerd2-proxy's exponential
//! one for HTTPRoute retries).
//!
//! Why jitter: proxies that back off in lock-step retry an endpoint at the
//! same instant and knock it over again; a random extra share of each
//! delay spreads them out (linkerd2-proxy's `ExponentialBackoff`, whose
//! `jitter` is this ratio).

use rand::Rng;
use std::time::Duration;

/// The delay after `failures` earlier failures: `min × 2^failures`, capped at
/// `max`, plus a random `0..=jitter` share of that, the extra capped at
/// `max − base` so that no delay exceeds `max` (linkerd2-proxy
/// `linkerd/exp-backoff/src/lib.rs`, `jitter`: `.min(remaining)` with
/// `remaining = self.max - base`). Before this the jitter was uncapped and
/// Linkerd's 60 s connect backoff could reach 66 s.
pub fn exponential<R: Rng + ?Sized>(
    min: Duration,
    max: Duration,
    failures: u32,
    jitter: f64,
    rng: &mut R,
) -> Duration {
    let doubling = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
    let base = min.saturating_mul(doubling).min(max);
    let extra = if jitter > 0.0 {
        base.mul_f64(rng.random_range(0.0..=jitter))
            .min(max.saturating_sub(base))
    } else {
        Duration::ZERO
    };
    base + extra
}

// === retries ===

/// Envoy's default retry back-off base interval (router filter docs).
pub const ENVOY_BACKOFF_BASE: Duration = Duration::from_millis(25);
/// Envoy's default retry back-off max interval: 10 × the base.
pub const ENVOY_BACKOFF_MAX: Duration = Duration::from_millis(250);
/// linkerd2-proxy's backoff before an HTTPRoute/GRPCRoute retry (Linkerd
/// 2.16+): the policy controller sends `min_backoff` 25 ms, `max_backoff`
/// 250 ms, `jitter_ratio` 1.0 with every route retry (linkerd/linkerd2
/// `policy-controller/grpc/src/outbound/grpc.rs` and `.../outbound/http.rs`,
/// `convert_retry`); the proxy waits one step of its `ExponentialBackoff`
/// before each retry (linkerd/linkerd2-proxy `linkerd/http/retry/src/lib.rs`,
/// `backoff.next().await`; `linkerd/exp-backoff/src/lib.rs`).
pub const LINKERD_ROUTE_RETRY_BACKOFF_MIN: Duration = Duration::from_millis(25);
/// See [`LINKERD_ROUTE_RETRY_BACKOFF_MIN`].
pub const LINKERD_ROUTE_RETRY_BACKOFF_MAX: Duration = Duration::from_millis(250);
/// See [`LINKERD_ROUTE_RETRY_BACKOFF_MIN`].
pub const LINKERD_ROUTE_RETRY_BACKOFF_JITTER: f64 = 1.0;
/// The wait before a retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backoff {
    /// Envoy's: random in `[0, (2^n − 1) × base]`, capped at `max`.
    FullJitter {
        /// Base interval.
        base: Duration,
        /// Cap.
        max: Duration,
    },
    /// linkerd2-proxy's `ExponentialBackoff`: `min × 2^(n−1)` capped at
    /// `max`, plus a random share `0..=jitter` of that, the total capped at
    /// `max`.
    Exponential {
        /// First step.
        min: Duration,
        /// Cap.
        max: Duration,
        /// Largest random extra, as a share of the step.
        jitter: f64,
    },
}

impl Backoff {
    /// Linkerd's HTTPRoute retry backoff.
    pub const LINKERD_ROUTE: Backoff = Backoff::Exponential {
        min: LINKERD_ROUTE_RETRY_BACKOFF_MIN,
        max: LINKERD_ROUTE_RETRY_BACKOFF_MAX,
        jitter: LINKERD_ROUTE_RETRY_BACKOFF_JITTER,
    };

    /// The wait before retry number `n` (1-based).
    pub fn delay<R: Rng + ?Sized>(&self, n: u32, rng: &mut R) -> Duration {
        match *self {
            Backoff::FullJitter { base, max } => backoff_delay(n, base, max, rng),
            Backoff::Exponential { min, max, jitter } => {
                exponential(min, max, n.saturating_sub(1), jitter, rng).min(max)
            }
        }
    }
}

/// Envoy's fully jittered backoff before retry number `n` (1-based).
pub fn backoff_delay<R: Rng + ?Sized>(
    n: u32,
    base: Duration,
    max: Duration,
    rng: &mut R,
) -> Duration {
    let factor = (1u64 << n.min(32)).saturating_sub(1);
    let ceiling = base
        .saturating_mul(u32::try_from(factor).unwrap_or(u32::MAX))
        .min(max);
    if ceiling.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_nanos(
        rng.random_range(0..=u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn doubles_caps_and_jitters_within_the_ratio() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let ms = Duration::from_millis;
        let plain: Vec<Duration> = (0..5)
            .map(|k| exponential(ms(100), ms(500), k, 0.0, &mut rng))
            .collect();
        assert_eq!(plain, vec![ms(100), ms(200), ms(400), ms(500), ms(500)]);
        for k in 0..40 {
            let d = exponential(ms(100), ms(500), k, 0.5, &mut rng);
            let base = ms(100 << k.min(3)).min(ms(500));
            assert!(d >= base && d <= base.mul_f64(1.5), "{k}: {d:?}");
            assert!(d <= ms(500), "capped at the maximum: {k}: {d:?}");
        }
    }

    #[test]
    fn backoff_is_fully_jittered_and_capped() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in 1..8u32 {
            let ceiling = (ENVOY_BACKOFF_BASE * ((1 << n) - 1)).min(ENVOY_BACKOFF_MAX);
            let mut max_seen = Duration::ZERO;
            for _ in 0..500 {
                let d = backoff_delay(n, ENVOY_BACKOFF_BASE, ENVOY_BACKOFF_MAX, &mut rng);
                assert!(d <= ceiling, "retry {n}: {d:?} > {ceiling:?}");
                max_seen = max_seen.max(d);
            }
            // Uniform over [0, ceiling]: 500 draws come close to the top.
            assert!(max_seen >= ceiling.mul_f64(0.95), "retry {n}: {max_seen:?}");
        }
    }

    #[test]
    fn linkerd_route_backoff_is_exponential_with_jitter_up_to_the_step() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let ms = Duration::from_millis;
        for n in 1..6u32 {
            let step = (ms(25) * (1 << (n - 1))).min(ms(250));
            for _ in 0..200 {
                let d = Backoff::LINKERD_ROUTE.delay(n, &mut rng);
                assert!(
                    d >= step && d <= (step * 2).min(ms(250)),
                    "retry {n}: {d:?}"
                );
            }
        }
    }
}
