//! Outlier detection: Envoy's consecutive-5xx host ejection.
//!
//! Why: like failure accrual, it takes a host that keeps failing out of the
//! load-balancing set, but as a cluster-wide policy with two guards against
//! ejecting too much: at most `max_ejection_percent` of the hosts may be
//! ejected at once, and if fewer than `panic_threshold` percent of the hosts
//! are healthy the balancer ignores health altogether ("panic mode":
//! better to spread load over possibly-bad hosts than to pile it on a few).
//!
//! Semantics modelled (Envoy `outlier_detection.proto` and the "Outlier
//! detection" architecture page): a host is ejected as soon as it returns
//! `consecutive_5xx` consecutive server errors (gRPC statuses Envoy maps to
//! 5xx, and local-origin errors such as connect failures); it stays ejected
//! for `base_ejection_time` × the number of times it has been ejected
//! (capped at `max(base, max_ejection_time)`), and is returned to service at
//! the first `interval` sweep after that time has passed. Each sweep in which
//! a host is healthy lowers its ejection count by one. At least one host may
//! always be ejected, whatever the percentage.
//!
//! Defaults (Envoy `config.cluster.v3.OutlierDetection`): consecutive_5xx 5,
//! interval 10 s, base_ejection_time 30 s, max_ejection_time 300 s,
//! max_ejection_percent 10; panic threshold 50 % (Envoy
//! `common_lb_config.healthy_panic_threshold`).

use super::body::Buffered;
use super::classify::{Classified, Outcome, outcome_of};
use super::gate::Available;
use super::metrics::Ejections;
use crate::lock;
use http::Request;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tower::{Layer, Service};

/// Envoy `consecutive_5xx` default.
pub const ENVOY_CONSECUTIVE_5XX: u32 = 5;
/// Envoy `interval` default.
pub const ENVOY_INTERVAL: Duration = Duration::from_secs(10);
/// Envoy `base_ejection_time` default.
pub const ENVOY_BASE_EJECTION_TIME: Duration = Duration::from_secs(30);
/// Envoy `max_ejection_time` default.
pub const ENVOY_MAX_EJECTION_TIME: Duration = Duration::from_secs(300);
/// Envoy `max_ejection_percent` default.
pub const ENVOY_MAX_EJECTION_PERCENT: u32 = 10;
/// Envoy `healthy_panic_threshold` default, percent.
pub const ENVOY_PANIC_THRESHOLD: f64 = 50.0;

/// Outlier-detection settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutlierConfig {
    /// Consecutive server errors that eject a host.
    pub consecutive_5xx: u32,
    /// Time between sweeps (unejection happens on sweeps).
    pub interval: Duration,
    /// Ejection time per ejection count.
    pub base_ejection_time: Duration,
    /// Longest ejection.
    pub max_ejection_time: Duration,
    /// Most hosts ejected at once, percent (at least one is always allowed).
    pub max_ejection_percent: u32,
}

impl Default for OutlierConfig {
    /// Envoy's defaults.
    fn default() -> Self {
        Self {
            consecutive_5xx: ENVOY_CONSECUTIVE_5XX,
            interval: ENVOY_INTERVAL,
            base_ejection_time: ENVOY_BASE_EJECTION_TIME,
            max_ejection_time: ENVOY_MAX_EJECTION_TIME,
            max_ejection_percent: ENVOY_MAX_EJECTION_PERCENT,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Host {
    consecutive: u32,
    /// Ejection count (the multiplier of the base ejection time).
    multiplier: u32,
    /// Ejected until (exclusive) the first sweep at or after this instant.
    ejected_until: Option<Instant>,
    /// Sweep index from which this host counts as healthy.
    healthy_since_sweep: u64,
}

/// One cluster's detector, keyed by endpoint name.
#[derive(Debug, Clone)]
pub struct OutlierDetector {
    config: OutlierConfig,
    start: Instant,
    hosts: BTreeMap<String, Host>,
    /// Total ejections performed.
    pub ejections: u64,
}

impl OutlierDetector {
    /// A detector whose sweeps run every `interval` from `start`.
    pub fn new(config: OutlierConfig, start: Instant) -> Self {
        Self {
            config,
            start,
            hosts: BTreeMap::new(),
            ejections: 0,
        }
    }

    /// Keeps only `names` (discovery removed the others); adds new ones.
    pub fn retain(&mut self, names: &[String]) {
        self.hosts.retain(|k, _| names.contains(k));
        for n in names {
            self.hosts.entry(n.clone()).or_default();
        }
    }

    fn sweep_index(&self, t: Instant) -> u64 {
        let since = t.saturating_duration_since(self.start).as_nanos();
        (since / self.config.interval.as_nanos().max(1)) as u64
    }

    /// The first sweep instant at or after `t`.
    fn sweep_at_or_after(&self, t: Instant) -> Instant {
        let interval = self.config.interval.as_nanos().max(1);
        let since = t.saturating_duration_since(self.start).as_nanos();
        let k = since.div_ceil(interval);
        self.start + Duration::from_nanos(u64::try_from(k * interval).unwrap_or(u64::MAX))
    }

    /// Whether `name` is ejected at `now`. Unejects lazily (on the sweep).
    pub fn is_ejected(&mut self, name: &str, now: Instant) -> bool {
        let Some(until) = self.hosts.get(name).and_then(|h| h.ejected_until) else {
            return false;
        };
        let back = self.sweep_at_or_after(until);
        if now >= back {
            let sweep = self.sweep_index(back);
            if let Some(h) = self.hosts.get_mut(name) {
                h.ejected_until = None;
                h.consecutive = 0;
                h.healthy_since_sweep = sweep;
            }
            false
        } else {
            true
        }
    }

    /// Hosts ejected at `now`.
    pub fn ejected_count(&mut self, now: Instant) -> usize {
        let names: Vec<String> = self.hosts.keys().cloned().collect();
        names.iter().filter(|n| self.is_ejected(n, now)).count()
    }

    /// Records an outcome for `name`; may eject it.
    pub fn record(&mut self, name: &str, failure: bool, now: Instant) {
        if self.is_ejected(name, now) {
            return;
        }
        let Some(host) = self.hosts.get_mut(name) else {
            return;
        };
        if !failure {
            host.consecutive = 0;
            return;
        }
        host.consecutive += 1;
        if host.consecutive < self.config.consecutive_5xx {
            return;
        }
        let total = self.hosts.len();
        let allowed = (total * self.config.max_ejection_percent as usize / 100).max(1);
        if self.ejected_count(now) >= allowed {
            return;
        }
        let sweep_now = self.sweep_index(now);
        let config = self.config;
        let Some(host) = self.hosts.get_mut(name) else {
            return;
        };
        // Healthy sweeps since the last unejection lower the multiplier.
        let healthy_sweeps = sweep_now.saturating_sub(host.healthy_since_sweep);
        host.multiplier = host
            .multiplier
            .saturating_sub(u32::try_from(healthy_sweeps).unwrap_or(u32::MAX))
            + 1;
        let cap = config.max_ejection_time.max(config.base_ejection_time);
        let duration = config
            .base_ejection_time
            .saturating_mul(host.multiplier)
            .min(cap);
        host.ejected_until = Some(now + duration);
        host.consecutive = 0;
        self.ejections += 1;
    }
}

/// One endpoint's view of a cluster-wide [`OutlierDetector`]: the
/// endpoint is unavailable while ejected, and every finished attempt is
/// recorded against it.
#[derive(Debug, Clone)]
pub struct OutlierLayer {
    detector: Arc<Mutex<OutlierDetector>>,
    host: Arc<str>,
    ejections: Ejections,
}

impl OutlierLayer {
    /// Records `host`'s attempts into the shared `detector`; each ejection
    /// of it counts in `ejections`.
    pub fn new(detector: Arc<Mutex<OutlierDetector>>, host: &str, ejections: Ejections) -> Self {
        Self {
            detector,
            host: Arc::from(host),
            ejections,
        }
    }
}

impl<S> Layer<S> for OutlierLayer {
    type Service = Outlier<S>;
    fn layer(&self, inner: S) -> Outlier<S> {
        Outlier {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`OutlierLayer`].
#[derive(Debug)]
pub struct Outlier<S> {
    inner: S,
    layer: OutlierLayer,
}

impl<S: Available> Available for Outlier<S> {
    fn is_available(&self, now: Instant) -> bool {
        self.inner.is_available(now)
            && !lock(&self.layer.detector).is_ejected(&self.layer.host, now)
    }
}

impl<S> Service<Request<Buffered>> for Outlier<S>
where
    S: Service<Request<Buffered>, Response = Classified, Error = Outcome>,
    S::Future: Send + 'static,
{
    type Response = Classified;
    type Error = Outcome;
    type Future = Pin<Box<dyn Future<Output = Result<Classified, Outcome>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let call = self.inner.call(request);
        let layer = self.layer.clone();
        Box::pin(async move {
            let result = call.await;
            let failure = outcome_of(&result).is_failure();
            let mut d = lock(&layer.detector);
            let before = d.ejections;
            d.record(&layer.host, failure, Instant::now());
            if d.ejections > before {
                layer.ejections.add();
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("h{i}")).collect()
    }

    #[test]
    fn ejects_after_consecutive_failures_and_returns_on_a_sweep() {
        let t0 = Instant::now();
        let mut d = OutlierDetector::new(OutlierConfig::default(), t0);
        d.retain(&names(10));
        let t = t0 + Duration::from_secs(3);
        for _ in 0..4 {
            d.record("h0", true, t);
        }
        assert!(!d.is_ejected("h0", t));
        d.record("h0", true, t);
        assert!(d.is_ejected("h0", t), "fifth consecutive failure ejects");
        // Ejected at 3 s for 30 s → eligible at the first sweep ≥ 33 s: 40 s.
        assert!(d.is_ejected("h0", t0 + Duration::from_secs(39)));
        assert!(!d.is_ejected("h0", t0 + Duration::from_secs(40)));
    }

    #[test]
    fn ejection_time_grows_with_each_ejection() {
        let t0 = Instant::now();
        let mut d = OutlierDetector::new(OutlierConfig::default(), t0);
        d.retain(&names(10));
        let mut now = t0;
        let mut back_at = Vec::new();
        for _ in 0..3 {
            for _ in 0..5 {
                d.record("h1", true, now);
            }
            assert!(d.is_ejected("h1", now));
            let mut t = now;
            while d.is_ejected("h1", t) {
                t += Duration::from_secs(1);
            }
            back_at.push((t - now).as_secs());
            now = t;
        }
        // 30 s, then 60 s, then 90 s (each rounded up to a 10 s sweep).
        assert_eq!(back_at, vec![30, 60, 90]);
    }

    #[test]
    fn never_ejects_more_than_max_percent_but_at_least_one() {
        let t = Instant::now();
        let mut d = OutlierDetector::new(OutlierConfig::default(), t);
        d.retain(&names(3));
        for h in ["h0", "h1", "h2"] {
            for _ in 0..5 {
                d.record(h, true, t);
            }
        }
        // 10 % of 3 hosts rounds down to 0, but one may always be ejected.
        assert_eq!(d.ejected_count(t), 1);
        let mut d = OutlierDetector::new(
            OutlierConfig {
                max_ejection_percent: 50,
                ..OutlierConfig::default()
            },
            t,
        );
        d.retain(&names(10));
        for i in 0..10 {
            for _ in 0..5 {
                d.record(&format!("h{i}"), true, t);
            }
            assert!(d.ejected_count(t) <= 5);
        }
        assert_eq!(d.ejected_count(t), 5);
    }

    #[test]
    fn a_success_resets_the_streak() {
        let t = Instant::now();
        let mut d = OutlierDetector::new(OutlierConfig::default(), t);
        d.retain(&names(2));
        for _ in 0..10 {
            for _ in 0..4 {
                d.record("h0", true, t);
            }
            d.record("h0", false, t);
        }
        assert_eq!(d.ejected_count(t), 0);
    }
}
