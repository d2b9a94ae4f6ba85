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
        }
    }

    /// The distribution's mean.
    pub fn mean(&self) -> Duration {
        match *self {
            ServiceTime::Constant(d) => d,
            ServiceTime::Exponential { mean } => mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
