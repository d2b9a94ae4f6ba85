//! How long a replica works on one request once it holds a worker slot.
//!
//! Real services are not constant-time; queueing behaviour (and therefore
//! what a balancer can win) depends on the service-time distribution. Every
//! draw comes from a seeded RNG owned by the replica, so a run is reproducible.

use rand::Rng;
use std::time::Duration;

/// A service-time distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ServiceTime {
    /// Every request takes exactly this long.
    Constant(Duration),
    /// Exponentially distributed with this mean (an M/M/c server).
    Exponential {
        /// The mean service time, `1/μ`.
        mean: Duration,
    },
    /// Log-normal with this median and shape `sigma` (the log's standard
    /// deviation): most requests near the median, a long right tail.
    LogNormal {
        /// The median, `e^μ`.
        median: Duration,
        /// σ of the underlying normal.
        sigma: f64,
    },
    /// Pareto (type I) with this minimum and tail index `alpha`: heavy
    /// tailed; the mean is finite only for `alpha > 1`.
    Pareto {
        /// The scale (smallest value).
        min: Duration,
        /// The tail index.
        alpha: f64,
    },
    /// `slow` with probability `p_slow`, else `fast`: a cache hit/miss mix.
    Bimodal {
        /// The common case.
        fast: Duration,
        /// The rare case.
        slow: Duration,
        /// Probability of `slow`.
        p_slow: f64,
    },
}

impl ServiceTime {
    /// Draws one service time. Results are truncated to whole nanoseconds.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        match *self {
            ServiceTime::Constant(d) => d,
            ServiceTime::Exponential { mean } => {
                // Inverse transform: -mean * ln(1 - U), U in [0, 1).
                let u: f64 = rng.random();
                let x = -(1.0 - u).ln();
                Duration::from_secs_f64(mean.as_secs_f64() * x)
            }
            ServiceTime::LogNormal { median, sigma } => {
                // Box-Muller for one standard normal draw.
                let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                secs(median.as_secs_f64() * (sigma * z).exp())
            }
            ServiceTime::Pareto { min, alpha } => {
                let u: f64 = rng.random();
                secs(min.as_secs_f64() / (1.0 - u).powf(1.0 / alpha.max(f64::MIN_POSITIVE)))
            }
            ServiceTime::Bimodal { fast, slow, p_slow } => {
                if rng.random::<f64>() < p_slow {
                    slow
                } else {
                    fast
                }
            }
        }
    }

    /// The distribution's mean (`None` for a Pareto with `alpha <= 1`).
    pub fn mean(&self) -> Option<Duration> {
        match *self {
            ServiceTime::Constant(d) => Some(d),
            ServiceTime::Exponential { mean } => Some(mean),
            ServiceTime::LogNormal { median, sigma } => {
                Some(scale(median, (sigma * sigma / 2.0).exp()))
            }
            ServiceTime::Pareto { min, alpha } => {
                (alpha > 1.0).then(|| scale(min, alpha / (alpha - 1.0)))
            }
            ServiceTime::Bimodal { fast, slow, p_slow } => {
                Some(scale(fast, 1.0 - p_slow).saturating_add(scale(slow, p_slow)))
            }
        }
    }
}

/// `d` times `factor`, saturating at [`Duration::MAX`] where
/// [`Duration::mul_f64`] would panic (a product too large to represent);
/// a NaN or negative factor gives zero. The same arithmetic as `mul_f64`
/// otherwise, so results are bit-for-bit those of `mul_f64`.
pub fn scale(d: Duration, factor: f64) -> Duration {
    if factor.is_nan() || factor <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(factor * d.as_secs_f64()).unwrap_or(Duration::MAX)
}

/// Seconds to a duration, saturating (a heavy tail can draw huge values).
fn secs(s: f64) -> Duration {
    if s.is_finite() && s >= 0.0 {
        Duration::try_from_secs_f64(s.min(86_400.0)).unwrap_or(Duration::ZERO)
    } else {
        Duration::from_secs(86_400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_saturates_instead_of_panicking() {
        let d = Duration::from_millis(2);
        assert_eq!(scale(d, 3.0), d.mul_f64(3.0));
        assert_eq!(scale(d, 1e30), Duration::MAX);
        assert_eq!(scale(d, f64::INFINITY), Duration::MAX);
        assert_eq!(scale(d, f64::NAN), Duration::ZERO);
        assert_eq!(scale(d, -1.0), Duration::ZERO);
    }
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn constant_is_constant() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let st = ServiceTime::Constant(Duration::from_millis(3));
        for _ in 0..10 {
            assert_eq!(st.sample(&mut rng), Duration::from_millis(3));
        }
    }

    #[test]
    fn exponential_mean_and_variance_match() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let st = ServiceTime::Exponential {
            mean: Duration::from_millis(2),
        };
        let n = 200_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| st.sample(&mut rng).as_secs_f64() * 1e3)
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // Exponential(mean 2 ms): mean 2, variance 4. Standard error of the
        // mean is 2/sqrt(n) ≈ 0.0045, so 1% is > 4 standard errors.
        assert!((mean - 2.0).abs() < 0.02, "mean {mean}");
        assert!((var - 4.0).abs() < 0.12, "variance {var}");
    }

    fn mean_ms(st: ServiceTime, n: usize, seed: u64) -> f64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| st.sample(&mut rng).as_secs_f64() * 1e3)
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn lognormal_pareto_bimodal_means_match() {
        let ms = Duration::from_millis;
        let cases = [
            (
                ServiceTime::LogNormal {
                    median: ms(2),
                    sigma: 0.5,
                },
                0.01,
            ),
            (
                ServiceTime::Pareto {
                    min: ms(1),
                    alpha: 3.0,
                },
                0.02,
            ),
            (
                ServiceTime::Bimodal {
                    fast: ms(1),
                    slow: ms(50),
                    p_slow: 0.1,
                },
                0.02,
            ),
        ];
        for (st, tol) in cases {
            let want = st.mean().expect("finite mean").as_secs_f64() * 1e3;
            let got = mean_ms(st, 400_000, 11);
            assert!(
                (got / want - 1.0).abs() < tol,
                "{st:?}: mean {got} vs {want}"
            );
        }
        assert_eq!(
            ServiceTime::Pareto {
                min: ms(1),
                alpha: 0.9
            }
            .mean(),
            None
        );
    }

    #[test]
    fn same_seed_same_draws() {
        let st = ServiceTime::Exponential {
            mean: Duration::from_millis(2),
        };
        let a: Vec<_> = {
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            (0..100).map(|_| st.sample(&mut rng)).collect()
        };
        let b: Vec<_> = {
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            (0..100).map(|_| st.sample(&mut rng)).collect()
        };
        assert_eq!(a, b);
    }
}
