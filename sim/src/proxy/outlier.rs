//! Outlier detection: Envoy's consecutive-5xx and success-rate host
//! ejection.
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
//! a host is healthy lowers its ejection count by one.
//!
//! The percentage guard is Envoy's current rule (since Envoy 1.27,
//! envoyproxy/envoy#27909, `DetectorImpl::ejectHost` in
//! `source/common/upstream/outlier_detection_impl.cc`): a host is ejected
//! only if `(ejected + 1) / hosts × 100 ≤ max_ejection_percent`, so with the
//! default 10 % and fewer than 10 hosts nothing is ejected, unless
//! `always_eject_one_host` (Envoy 1.31, envoyproxy/envoy#34796) lets the
//! first ejection through whatever the percentage. Before 1.27 Envoy always
//! allowed one ejection (`ejections_active == 0 || percent ≤ max`).
//!
//! Defaults (Envoy 1.3x `config.cluster.v3.OutlierDetection`):
//! consecutive_5xx 5, interval 10 s, base_ejection_time 30 s,
//! max_ejection_time 300 s, max_ejection_percent 10, always_eject_one_host
//! false; panic threshold 50 % (Envoy `common_lb_config.healthy_panic_threshold`).
//!
//! Success-rate ejection ([`SuccessRate`]: minimum hosts 5, request volume
//! 100, stdev factor 1.9) is on by default in Envoy and in Consul's
//! clusters; Istio turns it off (`EnforcingSuccessRate: 0`). It runs at
//! every `interval` sweep over the requests of the interval just ended
//! (see [`super::success_rate`]); sweeps are processed lazily, on the
//! detector's next use after the sweep instant, as of that instant. Before
//! it was modelled it was reported as "on, not modelled".

use super::available::Available;
use super::body::Buffered;
use super::classify::{Classified, Outcome, outcome_of};
use super::metrics::Ejections;
use super::success_rate::Bucket;
use crate::sync::lock;
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
/// Envoy `always_eject_one_host` default (field added in Envoy 1.31).
pub const ENVOY_ALWAYS_EJECT_ONE_HOST: bool = false;
pub use super::success_rate::{
    ENVOY_SUCCESS_RATE_MINIMUM_HOSTS, ENVOY_SUCCESS_RATE_REQUEST_VOLUME,
    ENVOY_SUCCESS_RATE_STDEV_FACTOR, SuccessRate,
};
/// Panic threshold Istio sets from a DestinationRule's
/// `outlierDetection.minHealthPercent`, whose default is 0 (istio/istio
/// `pilot/pkg/networking/core/cluster_traffic_policy.go`,
/// `applyOutlierDetection`: "Disable panic threshold by default").
pub const ISTIO_MIN_HEALTH_PERCENT: f64 = 0.0;
/// Panic threshold Consul sets on every upstream cluster: 0, disabled
/// (hashicorp/consul `agent/xds/clusters.go`, `CommonLbConfig`
/// `HealthyPanicThreshold: 0 // disable panic threshold`).
pub const CONSUL_PANIC_THRESHOLD: f64 = 0.0;

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
    /// Most hosts ejected at once, percent: a host is ejected only if
    /// `(ejected + 1) / hosts` stays within it.
    pub max_ejection_percent: u32,
    /// Let the first ejection through whatever the percentage.
    pub always_eject_one_host: bool,
    /// Success-rate ejection, when enforced.
    pub success_rate: Option<SuccessRate>,
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
            always_eject_one_host: ENVOY_ALWAYS_EJECT_ONE_HOST,
            success_rate: Some(SuccessRate::default()),
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
    /// Requests in the current interval (for success-rate ejection).
    bucket: Bucket,
    /// Ejections of this host not yet taken by its layer.
    unreported: u64,
}

/// One cluster's detector, keyed by endpoint name.
#[derive(Debug, Clone)]
pub struct OutlierDetector {
    config: OutlierConfig,
    start: Instant,
    hosts: BTreeMap<String, Host>,
    /// The last sweep processed for success-rate ejection.
    swept: u64,
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
            swept: 0,
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

    /// Whether `name` is ejected at `now`. Unejects lazily (on the sweep),
    /// and runs the success-rate sweeps due by `now`.
    pub fn is_ejected(&mut self, name: &str, now: Instant) -> bool {
        self.advance(now);
        self.check(name, now)
    }

    /// Runs the success-rate sweep due since the last one processed, over
    /// the requests counted since; later sweeps saw no requests and eject
    /// nothing.
    fn advance(&mut self, now: Instant) {
        let due = self.sweep_index(now);
        if due <= self.swept {
            return;
        }
        let first = self.swept + 1;
        self.swept = due;
        let mut buckets = BTreeMap::new();
        for (name, host) in &mut self.hosts {
            buckets.insert(name.clone(), std::mem::take(&mut host.bucket));
        }
        let Some(rule) = self.config.success_rate else {
            return;
        };
        let interval = u32::try_from(first).unwrap_or(u32::MAX);
        let at = self.start + self.config.interval.saturating_mul(interval);
        // Hosts ejected at the sweep are not judged ("Don't do work if the
        // host is already ejected").
        buckets.retain(|name, _| !self.check(name, at));
        for name in rule.outliers(self.hosts.len(), &buckets) {
            self.try_eject(&name, at);
        }
    }

    /// [`Self::is_ejected`] without running sweeps.
    fn check(&mut self, name: &str, now: Instant) -> bool {
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
        self.advance(now);
        self.count_ejected(now)
    }

    fn count_ejected(&mut self, now: Instant) -> usize {
        let names: Vec<String> = self.hosts.keys().cloned().collect();
        names.iter().filter(|n| self.check(n, now)).count()
    }

    /// Records an outcome for `name`; may eject it.
    pub fn record(&mut self, name: &str, failure: bool, now: Instant) {
        if self.is_ejected(name, now) {
            return;
        }
        let Some(host) = self.hosts.get_mut(name) else {
            return;
        };
        host.bucket.record(failure);
        if !failure {
            host.consecutive = 0;
            return;
        }
        host.consecutive += 1;
        if host.consecutive < self.config.consecutive_5xx {
            return;
        }
        self.try_eject(name, now);
    }

    /// Ejects `name` at `now` if Envoy's percentage rule allows it
    /// (`DetectorImpl::ejectHost`).
    fn try_eject(&mut self, name: &str, now: Instant) {
        let total = self.hosts.len();
        let ejected = self.count_ejected(now);
        let within = (ejected + 1) * 100 <= total * self.config.max_ejection_percent as usize;
        let first_allowed = self.config.always_eject_one_host && ejected == 0;
        if !(within || first_allowed) {
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
        host.unreported += 1;
        self.ejections += 1;
    }

    /// Ejections of `name` since the last call. A success-rate ejection
    /// happens at a sweep, outside any attempt to the host; its layer
    /// reports it with the host's next finished attempt.
    pub fn take_ejections(&mut self, name: &str) -> u64 {
        self.hosts
            .get_mut(name)
            .map_or(0, |h| std::mem::take(&mut h.unreported))
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
            d.record(&layer.host, failure, Instant::now());
            for _ in 0..d.take_ejections(&layer.host) {
                layer.ejections.add();
            }
            result
        })
    }
}

#[cfg(test)]
#[path = "outlier_tests.rs"]
mod tests;
