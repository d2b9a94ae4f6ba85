//! Endpoint weights from ORCA load reports, as gRPC's
//! `weighted_round_robin` computes them (gRFC A58; grpc/grpc-go
//! `balancer/weightedroundrobin/balancer.go`, `endpointWeight`).
//!
//! Why: a balancer that counts requests (round robin, least-request) cannot
//! tell a replica that answers quickly because it is idle from one that is
//! saturated; the server can. Each response carries the replica's
//! utilisation and its answer and error rates; the endpoint's weight is
//! `qps / (utilization + eps/qps × error_utilization_penalty)`: requests it
//! serves per unit of utilisation, discounted for errors, so a replica that
//! fails fast (high qps, high eps) does not attract traffic.
//!
//! A weight counts only after `blackout_period` of non-empty reports (so a
//! fresh endpoint's first, noisy reports do not swing traffic) and lapses
//! after `weight_expiration_period` without one. Until then its weight is 0,
//! which the scheduler treats as "the mean of the others".

use std::time::Duration;
use stockdata::orca::OrcaLoadReport;
use tokio::time::Instant;

/// gRFC A58 `blackout_period` default.
pub const BLACKOUT_PERIOD: Duration = Duration::from_secs(10);
/// gRFC A58 `weight_expiration_period` default (3 minutes).
pub const WEIGHT_EXPIRATION_PERIOD: Duration = Duration::from_secs(180);
/// gRFC A58 `weight_update_period` default: how often the scheduler is
/// rebuilt from the current weights (values below 100 ms are raised to it).
pub const WEIGHT_UPDATE_PERIOD: Duration = Duration::from_secs(1);
/// gRFC A58 `error_utilization_penalty` default.
pub const ERROR_UTILIZATION_PENALTY: f64 = 1.0;

/// How weights are derived from reports (gRFC A58's
/// `WeightedRoundRobinLbConfig`, per-request reports: `enable_oob_load_report`
/// false).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrcaConfig {
    /// Non-empty reports needed for this long before a weight counts.
    pub blackout_period: Duration,
    /// A weight without a report for this long lapses.
    pub weight_expiration_period: Duration,
    /// Scheduler rebuild period.
    pub weight_update_period: Duration,
    /// Weight of the error rate against utilisation.
    pub error_utilization_penalty: f64,
}

impl Default for OrcaConfig {
    /// gRFC A58's defaults.
    fn default() -> Self {
        Self {
            blackout_period: BLACKOUT_PERIOD,
            weight_expiration_period: WEIGHT_EXPIRATION_PERIOD,
            weight_update_period: WEIGHT_UPDATE_PERIOD,
            error_utilization_penalty: ERROR_UTILIZATION_PENALTY,
        }
    }
}

/// One endpoint's weight state.
#[derive(Debug, Clone, Copy)]
pub struct EndpointWeight {
    config: OrcaConfig,
    value: f64,
    non_empty_since: Option<Instant>,
    last_updated: Option<Instant>,
}

impl EndpointWeight {
    /// A new endpoint: no report yet.
    pub fn new(config: OrcaConfig) -> Self {
        Self {
            config,
            value: 0.0,
            non_empty_since: None,
            last_updated: None,
        }
    }

    /// Takes in one report. A report without utilisation or without
    /// requests is empty and ignored (grpc-go `OnLoadReport`).
    pub fn on_report(&mut self, r: &OrcaLoadReport, now: Instant) {
        let utilization = if r.application_utilization > 0.0 {
            r.application_utilization
        } else {
            r.cpu_utilization
        };
        if utilization <= 0.0 || r.rps_fractional <= 0.0 {
            return;
        }
        let error_rate = r.eps / r.rps_fractional;
        self.value =
            r.rps_fractional / (utilization + error_rate * self.config.error_utilization_penalty);
        self.last_updated = Some(now);
        self.non_empty_since.get_or_insert(now);
    }

    /// The weight now: 0 before the first report, during the blackout
    /// period and once expired (grpc-go `endpointWeight.weight`).
    pub fn weight(&mut self, now: Instant) -> f64 {
        let Some(last) = self.last_updated else {
            return 0.0;
        };
        if now.saturating_duration_since(last) >= self.config.weight_expiration_period {
            self.non_empty_since = None;
            return 0.0;
        }
        match self.non_empty_since {
            Some(since) if now.saturating_duration_since(since) >= self.config.blackout_period => {
                self.value
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(rps: f64, eps: f64, util: f64) -> OrcaLoadReport {
        OrcaLoadReport {
            cpu_utilization: 0.0,
            rps_fractional: rps,
            eps,
            application_utilization: util,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_weight_counts_after_the_blackout_and_lapses_when_reports_stop() {
        let t0 = Instant::now();
        let mut w = EndpointWeight::new(OrcaConfig::default());
        assert_eq!(w.weight(t0), 0.0);
        w.on_report(&report(100.0, 0.0, 0.5), t0);
        assert_eq!(w.weight(t0 + Duration::from_secs(9)), 0.0, "blacked out");
        w.on_report(&report(100.0, 0.0, 0.5), t0 + Duration::from_secs(10));
        assert_eq!(w.weight(t0 + Duration::from_secs(10)), 200.0, "qps / util");
        let later = t0 + Duration::from_secs(10) + WEIGHT_EXPIRATION_PERIOD;
        assert_eq!(w.weight(later), 0.0, "expired");
        w.on_report(&report(100.0, 0.0, 0.5), later);
        assert_eq!(w.weight(later), 0.0, "a new blackout after expiry");
    }

    #[tokio::test(start_paused = true)]
    async fn errors_and_empty_reports() {
        let t0 = Instant::now();
        let config = OrcaConfig {
            blackout_period: Duration::ZERO,
            ..OrcaConfig::default()
        };
        let mut w = EndpointWeight::new(config);
        w.on_report(&report(0.0, 0.0, 0.5), t0);
        w.on_report(&report(100.0, 0.0, 0.0), t0);
        assert_eq!(w.weight(t0), 0.0, "empty reports are ignored");
        // Fast errors: half the answers fail, at low utilisation.
        w.on_report(&report(100.0, 50.0, 0.1), t0);
        assert!((w.weight(t0) - 100.0 / 0.6).abs() < 1e-9);
        // cpu_utilization stands in when the application reports none.
        w.on_report(
            &OrcaLoadReport {
                cpu_utilization: 0.25,
                ..report(100.0, 0.0, 0.0)
            },
            t0,
        );
        assert_eq!(w.weight(t0), 400.0);
    }
}
