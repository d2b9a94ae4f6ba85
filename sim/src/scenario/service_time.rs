//! How long a replica works on a call: the scenario's distributions.

use super::SimDuration;
use serde::{Deserialize, Serialize};

/// A service-time distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ServiceTimeConfig {
    /// `{ distribution = "constant", value = "2ms" }`
    Constant {
        /// The service time.
        value: SimDuration,
    },
    /// `{ distribution = "exponential", mean = "2ms" }`
    Exponential {
        /// The mean service time.
        mean: SimDuration,
    },
    /// `{ distribution = "lognormal", median = "2ms", sigma = 0.5 }`
    Lognormal {
        /// The median.
        median: SimDuration,
        /// σ of the underlying normal (> 0).
        sigma: f64,
    },
    /// `{ distribution = "pareto", min = "1ms", alpha = 2.5 }`
    Pareto {
        /// The smallest value.
        min: SimDuration,
        /// Tail index (> 0; the mean is finite above 1).
        alpha: f64,
    },
    /// `{ distribution = "bimodal", fast = "1ms", slow = "50ms", p_slow = 0.1 }`
    Bimodal {
        /// The common service time.
        fast: SimDuration,
        /// The rare service time.
        slow: SimDuration,
        /// Probability of `slow` (0 to 1).
        p_slow: f64,
    },
}
