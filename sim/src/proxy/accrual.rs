//! Failure accrual: Linkerd's per-endpoint circuit breaker.
//!
//! Why: a replica that fails every request (crashed handler, bad config)
//! still accepts connections, so the balancer keeps choosing it. After
//! `max_failures` consecutive failures the endpoint is marked unavailable for
//! a penalty; when the penalty ends it is on probation and receives exactly
//! one request. A success closes the breaker; a failure reopens it with the
//! next, longer penalty (exponential between `min_penalty` and
//! `max_penalty`, plus up to `jitter` × the penalty, so breakers across
//! proxies do not probe in lock-step).
//!
//! Defaults, from Linkerd's policy controller
//! (`policy-controller/k8s/index/src/outbound/index.rs`,
//! `parse_accrual_config`) and <https://linkerd.io/2.15/reference/circuit-breaking/>:
//! consecutive failures 7, minimum penalty 1 s, maximum penalty 60 s, jitter
//! ratio 0.5. Failure accrual is off unless the Service is annotated
//! `balancer.linkerd.io/failure-accrual: consecutive`.

use super::available::Available;
use super::body::Buffered;
use super::classify::{Classified, Outcome, outcome_of};
use super::metrics::Ejections;
use crate::sync::lock;
use http::Request;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tower::{Layer, Service};

/// `failure-accrual-consecutive-max-failures` default.
pub const LINKERD_MAX_FAILURES: u32 = 7;
/// `failure-accrual-consecutive-min-penalty` default.
pub const LINKERD_MIN_PENALTY: Duration = Duration::from_secs(1);
/// `failure-accrual-consecutive-max-penalty` default.
pub const LINKERD_MAX_PENALTY: Duration = Duration::from_secs(60);
/// `failure-accrual-consecutive-jitter-ratio` default.
pub const LINKERD_JITTER: f64 = 0.5;

/// Failure-accrual settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccrualConfig {
    /// Consecutive failures that open the breaker.
    pub max_failures: u32,
    /// First penalty.
    pub min_penalty: Duration,
    /// Longest penalty.
    pub max_penalty: Duration,
    /// Extra random share of each penalty, 0..=jitter.
    pub jitter: f64,
}

impl Default for AccrualConfig {
    /// Linkerd's defaults.
    fn default() -> Self {
        Self {
            max_failures: LINKERD_MAX_FAILURES,
            min_penalty: LINKERD_MIN_PENALTY,
            max_penalty: LINKERD_MAX_PENALTY,
            jitter: LINKERD_JITTER,
        }
    }
}

/// Where the breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Serving; counting consecutive failures.
    Closed,
    /// Unavailable until the instant.
    Open(Instant),
    /// One probe allowed; `true` once it has been sent.
    Probation(bool),
}

/// One endpoint's breaker.
#[derive(Debug, Clone)]
pub struct FailureAccrual {
    config: AccrualConfig,
    consecutive: u32,
    /// Penalties served since the breaker last closed.
    trips: u32,
    state: BreakerState,
    /// Total times the breaker opened.
    pub openings: u64,
}

impl FailureAccrual {
    /// A closed breaker.
    pub fn new(config: AccrualConfig) -> Self {
        Self {
            config,
            consecutive: 0,
            trips: 0,
            state: BreakerState::Closed,
            openings: 0,
        }
    }

    /// The state at `now` (an elapsed penalty becomes probation).
    pub fn state(&mut self, now: Instant) -> BreakerState {
        if let BreakerState::Open(until) = self.state
            && now >= until
        {
            self.state = BreakerState::Probation(false);
        }
        self.state
    }

    /// Whether a request may be sent now.
    pub fn is_available(&mut self, now: Instant) -> bool {
        matches!(
            self.state(now),
            BreakerState::Closed | BreakerState::Probation(false)
        )
    }

    /// A request is being sent (on probation, it is the probe).
    pub fn on_dispatch(&mut self, now: Instant) {
        if self.state(now) == BreakerState::Probation(false) {
            self.state = BreakerState::Probation(true);
        }
    }

    /// Records an outcome.
    pub fn record<R: Rng + ?Sized>(&mut self, failure: bool, now: Instant, rng: &mut R) {
        let state = self.state(now);
        if !failure {
            self.consecutive = 0;
            if matches!(state, BreakerState::Probation(_)) {
                self.state = BreakerState::Closed;
                self.trips = 0;
            }
            return;
        }
        self.consecutive = self.consecutive.saturating_add(1);
        let trip = match state {
            BreakerState::Closed => self.consecutive >= self.config.max_failures,
            BreakerState::Probation(_) => true,
            BreakerState::Open(_) => false,
        };
        if trip {
            let penalty = self.penalty(rng);
            self.trips = self.trips.saturating_add(1);
            self.openings += 1;
            self.state = BreakerState::Open(now + penalty);
        }
    }

    fn penalty<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let c = &self.config;
        super::backoff::exponential(c.min_penalty, c.max_penalty, self.trips, c.jitter, rng)
            .min(c.max_penalty)
    }
}

/// Puts one endpoint behind a [`FailureAccrual`] breaker: the endpoint is
/// unavailable while the breaker is open, and every finished attempt is
/// recorded (a success or a failure by [`Outcome::is_failure`]).
#[derive(Debug, Clone)]
pub struct AccrualLayer {
    config: AccrualConfig,
    seed: u64,
    ejections: Ejections,
}

impl AccrualLayer {
    /// A breaker with `config`; its penalty jitter comes from `seed`, and
    /// each opening counts in `ejections`.
    pub fn new(config: AccrualConfig, seed: u64, ejections: Ejections) -> Self {
        Self {
            config,
            seed,
            ejections,
        }
    }
}

impl<S> Layer<S> for AccrualLayer {
    type Service = Accrual<S>;
    fn layer(&self, inner: S) -> Accrual<S> {
        Accrual {
            inner,
            breaker: Arc::new(Mutex::new((
                FailureAccrual::new(self.config),
                ChaCha8Rng::seed_from_u64(self.seed),
            ))),
            ejections: self.ejections.clone(),
        }
    }
}

/// See [`AccrualLayer`].
#[derive(Debug)]
pub struct Accrual<S> {
    inner: S,
    breaker: Arc<Mutex<(FailureAccrual, ChaCha8Rng)>>,
    ejections: Ejections,
}

impl<S: Available> Available for Accrual<S> {
    fn is_available(&self, now: Instant) -> bool {
        self.inner.is_available(now) && lock(&self.breaker).0.is_available(now)
    }
}

impl<S> Service<Request<Buffered>> for Accrual<S>
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
        lock(&self.breaker).0.on_dispatch(Instant::now());
        let call = self.inner.call(request);
        let breaker = self.breaker.clone();
        let ejections = self.ejections.clone();
        Box::pin(async move {
            let result = call.await;
            let failure = outcome_of(&result).is_failure();
            let mut b = lock(&breaker);
            let (accrual, rng) = &mut *b;
            let before = accrual.openings;
            accrual.record(failure, Instant::now(), rng);
            if accrual.openings > before {
                ejections.add();
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn config() -> AccrualConfig {
        AccrualConfig {
            jitter: 0.0,
            ..AccrualConfig::default()
        }
    }

    #[test]
    fn opens_after_max_failures_probes_and_backs_off() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut b = FailureAccrual::new(config());
        for i in 1..7 {
            b.record(true, t0, &mut rng);
            assert!(b.is_available(t0), "still closed after {i} failures");
        }
        b.record(true, t0, &mut rng);
        assert_eq!(b.state(t0), BreakerState::Open(t0 + Duration::from_secs(1)));
        assert!(!b.is_available(t0 + Duration::from_millis(999)));
        // Penalty over: exactly one probe.
        let t1 = t0 + Duration::from_secs(1);
        assert!(b.is_available(t1));
        b.on_dispatch(t1);
        assert!(!b.is_available(t1), "only one probe at a time");
        // The probe fails: the next penalty doubles.
        b.record(true, t1, &mut rng);
        assert_eq!(b.state(t1), BreakerState::Open(t1 + Duration::from_secs(2)));
        // A successful probe closes it and resets the backoff.
        let t2 = t1 + Duration::from_secs(2);
        b.on_dispatch(t2);
        b.record(false, t2, &mut rng);
        assert_eq!(b.state(t2), BreakerState::Closed);
        assert_eq!(b.openings, 2);
    }

    #[test]
    fn penalty_is_capped_and_jitter_bounded() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut b = FailureAccrual::new(AccrualConfig::default());
        let mut now = Instant::now();
        for _ in 0..7 {
            b.record(true, now, &mut rng);
        }
        for trip in 0..12u32 {
            let BreakerState::Open(until) = b.state(now) else {
                panic!("open")
            };
            let penalty = until - now;
            let base = Duration::from_secs(1 << trip.min(6)).min(LINKERD_MAX_PENALTY);
            assert!(
                penalty >= base && penalty <= (base.mul_f64(1.5)).min(LINKERD_MAX_PENALTY),
                "trip {trip}: {penalty:?}"
            );
            now = until;
            b.on_dispatch(now);
            b.record(true, now, &mut rng);
        }
    }

    #[test]
    fn successes_reset_the_count() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let t = Instant::now();
        let mut b = FailureAccrual::new(config());
        for _ in 0..20 {
            for _ in 0..6 {
                b.record(true, t, &mut rng);
            }
            b.record(false, t, &mut rng);
        }
        assert_eq!(b.state(t), BreakerState::Closed);
    }
}
