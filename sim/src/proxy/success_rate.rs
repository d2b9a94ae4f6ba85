//! Envoy's success-rate outlier ejection: the statistics half of
//! [`super::outlier::OutlierDetector`].
//!
//! Why: consecutive-5xx ejection misses a host that fails often but not
//! five times in a row (a gray failure at, say, 40 % errors). Success-rate
//! ejection compares hosts with each other instead: at every `interval`
//! sweep, each host not ejected that served at least `request_volume`
//! requests in the interval just ended has its success rate (percent); if
//! at least `minimum_hosts` hosts qualify, any whose rate is below
//! `mean − stdev_factor × stdev` (population standard deviation) is
//! ejected, subject to the same `max_ejection_percent` rule as every
//! ejection. Envoy: `DetectorImpl::processSuccessRateEjections` and
//! `DetectorImpl::successRateEjectionThreshold` in envoyproxy/envoy
//! `source/common/upstream/outlier_detection_impl.cc` (the accumulator's two
//! buckets swap on each interval; the one just filled is read).
//!
//! Defaults (Envoy 1.3x `config.cluster.v3.OutlierDetection`):
//! `success_rate_minimum_hosts` 5, `success_rate_request_volume` 100,
//! `success_rate_stdev_factor` 1900 (÷ 1000 = 1.9), `enforcing_success_rate`
//! 100 (always enforced; partial enforcement is not modelled). Envoy and
//! Consul have it on; Istio's DestinationRule turns it off
//! (`EnforcingSuccessRate: 0`). Errors are not split into local and
//! external origin (`split_external_local_origin_errors` false, Envoy's
//! default): a connect failure counts as a failed request.
//!
//! Not modelled: hosts are examined in name order (Envoy's map order is
//! unspecified), which only matters when the ejection percentage runs out
//! part-way through one sweep.

use std::collections::BTreeMap;

/// Envoy `success_rate_minimum_hosts` default.
pub const ENVOY_SUCCESS_RATE_MINIMUM_HOSTS: u32 = 5;
/// Envoy `success_rate_request_volume` default.
pub const ENVOY_SUCCESS_RATE_REQUEST_VOLUME: u32 = 100;
/// Envoy `success_rate_stdev_factor` default (1900 / 1000).
pub const ENVOY_SUCCESS_RATE_STDEV_FACTOR: f64 = 1.9;

/// Envoy's success-rate ejection settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuccessRate {
    /// Hosts with enough volume needed before any success-rate ejection.
    pub minimum_hosts: u32,
    /// Requests per interval a host needs to be considered.
    pub request_volume: u32,
    /// Ejection threshold: mean − factor × stdev.
    pub stdev_factor: f64,
}

impl Default for SuccessRate {
    /// Envoy's defaults.
    fn default() -> Self {
        Self {
            minimum_hosts: ENVOY_SUCCESS_RATE_MINIMUM_HOSTS,
            request_volume: ENVOY_SUCCESS_RATE_REQUEST_VOLUME,
            stdev_factor: ENVOY_SUCCESS_RATE_STDEV_FACTOR,
        }
    }
}

/// Requests and successes of one host in the current interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Requests finished.
    pub total: u64,
    /// Of which succeeded.
    pub success: u64,
}

impl Bucket {
    /// Counts one finished request.
    pub fn record(&mut self, failure: bool) {
        self.total += 1;
        if !failure {
            self.success += 1;
        }
    }
}

/// Envoy's threshold: `mean − factor × stdev` over `rates` (percent),
/// with the population standard deviation.
pub fn ejection_threshold(rates: &[f64], stdev_factor: f64) -> f64 {
    let n = rates.len() as f64;
    let mean = rates.iter().sum::<f64>() / n;
    let variance = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
    mean - stdev_factor * variance.sqrt()
}

impl SuccessRate {
    /// The hosts to eject after an interval whose per-host counts are
    /// `buckets` (ejected hosts already left out), out of `hosts` in the
    /// cluster: those below the threshold, in name order, if enough hosts
    /// had enough requests. Empty otherwise.
    pub fn outliers(&self, hosts: usize, buckets: &BTreeMap<String, Bucket>) -> Vec<String> {
        let minimum = self.minimum_hosts as usize;
        if hosts < minimum {
            return Vec::new();
        }
        let valid: Vec<(&String, f64)> = buckets
            .iter()
            .filter(|(_, b)| b.total > 0 && b.total >= u64::from(self.request_volume))
            .map(|(name, b)| (name, b.success as f64 * 100.0 / b.total as f64))
            .collect();
        if valid.is_empty() || valid.len() < minimum {
            return Vec::new();
        }
        let rates: Vec<f64> = valid.iter().map(|(_, r)| *r).collect();
        let threshold = ejection_threshold(&rates, self.stdev_factor);
        valid
            .into_iter()
            .filter(|(_, rate)| *rate < threshold)
            .map(|(name, _)| name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_matches_envoys_worked_example() {
        // outlier_detection_impl.cc: {50, 100, 100, 100, 100} → mean 90,
        // stdev 20, threshold 90 − 1.9 × 20 = 52.
        let t = ejection_threshold(&[50.0, 100.0, 100.0, 100.0, 100.0], 1.9);
        assert!((t - 52.0).abs() < 1e-9, "{t}");
    }

    fn buckets(rates: &[(u64, u64)]) -> BTreeMap<String, Bucket> {
        rates
            .iter()
            .enumerate()
            .map(|(i, &(total, success))| (format!("h{i}"), Bucket { total, success }))
            .collect()
    }

    #[test]
    fn needs_minimum_hosts_with_request_volume() {
        let sr = SuccessRate::default();
        let five = buckets(&[(200, 200), (200, 200), (200, 200), (200, 200), (200, 100)]);
        assert_eq!(sr.outliers(5, &five), ["h4"]);
        // One host under the volume: only 4 qualify, nothing is judged.
        let thin = buckets(&[(200, 200), (200, 200), (200, 200), (99, 99), (200, 100)]);
        assert!(sr.outliers(5, &thin).is_empty());
        // Fewer hosts in the cluster than the minimum.
        assert!(sr.outliers(4, &five).is_empty());
    }
}
