//! Jittered exponential backoff, shared by connect retries and failure
//! accrual's penalties.
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
}
