//! Open-loop arrival processes.
//!
//! An open-loop generator sends at times fixed in advance, whatever the
//! system does, as real users arrive independently of each other (and as
//! wrk2 does). The times are a pure function of (process, rate, duration,
//! seed), so every strategy of a comparison sees exactly the same arrivals.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// How arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// Exactly `1/rate` apart.
    Constant,
    /// Exponential gaps with mean `1/rate` (a Poisson process).
    Poisson,
}

/// Arrival offsets in `[0, duration)` at `rate` per second, sorted.
pub fn arrivals(process: Process, rate: f64, duration: Duration, seed: u64) -> Vec<Duration> {
    if !(rate.is_finite() && rate > 0.0) {
        return Vec::new();
    }
    if process == Process::Constant {
        return constant(rate, duration);
    }
    let mean_gap = 1.0 / rate;
    let end = duration.as_secs_f64();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    let mut t = exp(&mut rng, mean_gap);
    while t < end {
        // Whole microseconds keep the schedule exact and platform-stable.
        out.push(Duration::from_micros((t * 1e6) as u64));
        t += exp(&mut rng, mean_gap);
    }
    out
}

/// Constant arrivals in integers: arrival `k` is due at `k / rate`, and
/// those before `duration` are exactly ⌈rate × duration⌉ (no float
/// rounding adds or drops one at the end). The rate is taken in millionths
/// of a request per second (any rate written with up to six decimals is
/// exact); offsets are rounded to whole microseconds, as Poisson's are.
fn constant(rate: f64, duration: Duration) -> Vec<Duration> {
    const SCALE: u128 = 1_000_000; // rate units per request/s
    let micro_rate = (rate * SCALE as f64).round() as u128; // saturates
    if micro_rate == 0 {
        return Vec::new();
    }
    // k / rate < duration  ⇔  k × 10¹⁵ < duration_ns × micro_rate.
    let limit = duration.as_nanos().saturating_mul(micro_rate);
    let count = limit.div_ceil(SCALE * 1_000_000_000);
    let count = u64::try_from(count).unwrap_or(u64::MAX);
    (0..count)
        .map(|k| {
            // k / rate in µs, rounded half up: k × 10¹² / micro_rate.
            let twice = u128::from(k).saturating_mul(2 * SCALE * 1_000_000);
            let micros = (twice / micro_rate).div_ceil(2);
            Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
        })
        .collect()
}

/// One draw from an exponential distribution with mean `mean`.
pub fn exp<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> f64 {
    let u: f64 = rng.random();
    -(1.0 - u).ln() * mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let a = arrivals(Process::Constant, 4.0, Duration::from_secs(2), 1);
        let ms: Vec<u128> = a.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![0, 250, 500, 750, 1000, 1250, 1500, 1750]);
    }

    #[test]
    fn constant_rate_gives_exactly_rate_times_duration() {
        // 1e6/s for 17 ms: 17,000, not 17,001 (0.017 is not exact in f64).
        let a = arrivals(Process::Constant, 1e6, Duration::from_millis(17), 1);
        assert_eq!(a.len(), 17_000);
        assert_eq!(a[16_999], Duration::from_micros(16_999));
        // A fractional count rounds up: arrivals at 0, 0.4 and 0.8 s.
        let a = arrivals(Process::Constant, 2.5, Duration::from_millis(1000), 1);
        assert_eq!(
            a,
            vec![
                Duration::ZERO,
                Duration::from_millis(400),
                Duration::from_millis(800)
            ]
        );
        // Offsets round to the nearest microsecond: 1/3 s = 333,333 µs.
        let a = arrivals(Process::Constant, 3.0, Duration::from_secs(1), 1);
        assert_eq!(a[1], Duration::from_micros(333_333));
        assert_eq!(a[2], Duration::from_micros(666_667));
    }

    #[test]
    fn poisson_count_and_gaps_match_theory() {
        let rate = 100.0;
        let secs = 1000;
        let a = arrivals(Process::Poisson, rate, Duration::from_secs(secs), 9);
        // Count ~ Poisson(100 000): sd ≈ 316.
        let n = a.len() as f64;
        assert!((n - 100_000.0).abs() < 1300.0, "{n} arrivals");
        // Gaps: exponential, mean 10 ms, coefficient of variation 1.
        let gaps: Vec<f64> = a.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.01).abs() < 0.0002, "mean gap {mean}");
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.02,
            "cv {}",
            var.sqrt() / mean
        );
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn same_seed_same_arrivals() {
        let d = Duration::from_secs(5);
        assert_eq!(
            arrivals(Process::Poisson, 50.0, d, 3),
            arrivals(Process::Poisson, 50.0, d, 3)
        );
        assert_ne!(
            arrivals(Process::Poisson, 50.0, d, 3),
            arrivals(Process::Poisson, 50.0, d, 4)
        );
    }
}
