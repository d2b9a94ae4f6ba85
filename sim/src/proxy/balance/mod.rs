//! The balancer: a tower service over one service's endpoints.
//!
//! For each request it (1) applies any endpoint-set change discovery has
//! delivered, (2) keeps the endpoints that may take traffic now (not in
//! connect backoff, not tripped by failure accrual, not ejected by outlier
//! detection; or all of them in Envoy's panic mode), (3) lets the policy
//! pick one, and (4) sends the request, recording the outcome into the
//! endpoint's load, breaker, outlier state and metrics.
//!
//! Policies, one per module: [`round_robin`], [`random`], [`p2c`] (least
//! request or peak-EWMA, by [`LoadMetric`]), [`weighted`]. Every random
//! choice comes from the balancer's own seeded RNG ([`Balance::from_rng`]).

pub mod p2c;
pub mod random;
pub mod round_robin;
pub mod weighted;

use super::accrual::{AccrualConfig, FailureAccrual};
use super::body::Buffered;
use super::classify::Outcome;
use super::load::{Load, LoadMetric, PeakEwma};
use super::metrics::{EndpointMetrics, ProxyMetrics};
use super::outlier::{OutlierConfig, OutlierDetector};
use crate::cluster::Endpoint;
use crate::lock;
use http::{Request, Response};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

/// A balancing policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Policy {
    /// [`round_robin`].
    RoundRobin,
    /// [`random`].
    Random,
    /// [`p2c`] over requests in flight (Envoy `LEAST_REQUEST`).
    LeastRequest {
        /// Random candidates compared per pick.
        choice_count: u32,
    },
    /// [`p2c`] over peak-EWMA cost (Linkerd).
    PeakEwma {
        /// RTT assumed for a new endpoint.
        default_rtt: Duration,
        /// EWMA decay time constant.
        decay: Duration,
    },
    /// [`weighted`] random by per-pod weight.
    Weighted,
}

/// What a policy sees of one available endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Index into the balancer's endpoint list.
    pub index: usize,
    /// The endpoint's load (policy-specific metric).
    pub load: f64,
    /// The endpoint's weight.
    pub weight: u32,
}

/// Something that can say whether it can take a request now (an
/// endpoint's connection may be in reconnect backoff).
pub trait Available {
    /// Whether a request may be sent now.
    fn is_available(&self, now: Instant) -> bool;
}

impl<C: stockdata::transport::Connect> Available for super::Http2Endpoint<C> {
    fn is_available(&self, now: Instant) -> bool {
        super::Http2Endpoint::is_available(self, now)
    }
}

/// What the balancer needs of an endpoint service (a trait alias).
pub trait EndpointService:
    Service<
        Request<Buffered>,
        Response = Response<Buffered>,
        Error = Outcome,
        Future: Send + 'static,
    > + Available
    + Send
    + 'static
{
}

impl<S> EndpointService for S where
    S: Service<
            Request<Buffered>,
            Response = Response<Buffered>,
            Error = Outcome,
            Future: Send + 'static,
        > + Available
        + Send
        + 'static
{
}

/// Request extension: endpoints earlier attempts of this request went to
/// (Envoy's `previous_hosts` retry predicate avoids them when it can).
#[derive(Debug, Clone, Default)]
pub struct PreviousHosts(pub Vec<String>);

/// Request extension: give up on this attempt after this long (the
/// per-try timeout); the endpoint is charged a `Timeout` failure.
#[derive(Debug, Clone, Copy)]
pub struct PerTryTimeout(pub Duration);

struct PendingGuard(Arc<Mutex<EndpointState>>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let mut s = lock(&self.0);
        s.pending = s.pending.saturating_sub(1);
    }
}

/// Request extension: this attempt is a retry (for metrics).
#[derive(Debug, Clone, Copy)]
pub struct IsRetry;

/// The result of one attempt through the balancer.
#[derive(Debug)]
pub struct Attempt {
    /// The endpoint picked, if any was available.
    pub endpoint: Option<String>,
    /// How it went.
    pub outcome: Outcome,
    /// The endpoint's response, when there was one.
    pub response: Option<Response<Buffered>>,
}

/// Builds an endpoint service for a discovered endpoint; the `u64` is a
/// seed for the endpoint's own randomness.
pub type MakeEndpoint<S> = Box<dyn Fn(&Endpoint, u64) -> S + Send>;

/// Balancer settings.
#[derive(Debug, Clone)]
pub struct BalanceConfig {
    /// The policy.
    pub policy: Policy,
    /// Failure accrual (Linkerd), if on.
    pub accrual: Option<AccrualConfig>,
    /// Outlier detection (Envoy), if on.
    pub outlier: Option<OutlierConfig>,
    /// Envoy's healthy panic threshold (percent); `None` fails fast when
    /// no endpoint is available (Linkerd).
    pub panic_threshold: Option<f64>,
    /// Weights by pod name (default 1).
    pub weights: BTreeMap<String, u32>,
}

struct Slot<S> {
    name: String,
    addr: std::net::SocketAddr,
    weight: u32,
    service: S,
    state: Arc<Mutex<EndpointState>>,
}

/// Per-endpoint state the balancer reads and attempts update.
#[derive(Debug)]
pub struct EndpointState {
    pending: usize,
    ewma: PeakEwma,
    accrual: Option<FailureAccrual>,
    rng: ChaCha8Rng,
}

impl EndpointState {
    fn current_load(&mut self, metric: LoadMetric, now: Instant) -> f64 {
        match metric {
            LoadMetric::PendingRequests => self.pending as f64,
            LoadMetric::PeakEwma => self.ewma.cost(self.pending, now),
        }
    }
}

impl Load for EndpointState {
    fn load(&self) -> f64 {
        self.pending as f64
    }
}

/// The balancer service.
pub struct Balance<S> {
    config: BalanceConfig,
    endpoints: Vec<Slot<S>>,
    cursor: round_robin::RoundRobin,
    rng: ChaCha8Rng,
    outlier: Option<Arc<Mutex<OutlierDetector>>>,
    discovery: watch::Receiver<Arc<Vec<Endpoint>>>,
    make: MakeEndpoint<S>,
    metrics: Arc<Mutex<ProxyMetrics>>,
}

// === impl Balance ===

impl<S> Balance<S>
where
    S: EndpointService,
{
    /// A balancer whose random choices come from `rng` (as
    /// `tower::balance::p2c::Balance::from_rng`), watching `discovery`.
    pub fn from_rng<R: Rng + ?Sized>(
        config: BalanceConfig,
        discovery: watch::Receiver<Arc<Vec<Endpoint>>>,
        make: MakeEndpoint<S>,
        metrics: Arc<Mutex<ProxyMetrics>>,
        rng: &mut R,
    ) -> Self {
        let now = Instant::now();
        let outlier = config
            .outlier
            .map(|c| Arc::new(Mutex::new(OutlierDetector::new(c, now))));
        let mut balance = Self {
            config,
            endpoints: Vec::new(),
            cursor: round_robin::RoundRobin::default(),
            rng: ChaCha8Rng::seed_from_u64(rng.random()),
            outlier,
            discovery,
            make,
            metrics,
        };
        balance.refresh(true);
        balance
    }

    /// Applies the latest endpoint set if discovery changed it.
    fn refresh(&mut self, force: bool) {
        if !force && !self.discovery.has_changed().unwrap_or(false) {
            return;
        }
        let latest = self.discovery.borrow_and_update().clone();
        let now = Instant::now();
        let mut old: Vec<Option<Slot<S>>> = std::mem::take(&mut self.endpoints)
            .into_iter()
            .map(Some)
            .collect();
        for e in latest.iter().filter(|e| e.ready) {
            let reused = old
                .iter_mut()
                .find(|s| {
                    s.as_ref()
                        .is_some_and(|s| s.name == e.pod && s.addr == e.addr)
                })
                .and_then(Option::take);
            let slot = match reused {
                Some(slot) => slot,
                None => self.new_slot(e, now),
            };
            self.endpoints.push(slot);
        }
        if let Some(outlier) = &self.outlier {
            let names: Vec<String> = self.endpoints.iter().map(|s| s.name.clone()).collect();
            lock(outlier).retain(&names);
        }
    }

    fn new_slot(&mut self, e: &Endpoint, now: Instant) -> Slot<S> {
        let (default_rtt, decay) = match self.config.policy {
            Policy::PeakEwma { default_rtt, decay } => (default_rtt, decay),
            _ => (
                super::load::peak_ewma::LINKERD_DEFAULT_RTT,
                super::load::peak_ewma::LINKERD_DECAY,
            ),
        };
        let seed: u64 = self.rng.random();
        Slot {
            name: e.pod.clone(),
            addr: e.addr,
            weight: self.config.weights.get(&e.pod).copied().unwrap_or(1),
            service: (self.make)(e, seed),
            state: Arc::new(Mutex::new(EndpointState {
                pending: 0,
                ewma: PeakEwma::new(default_rtt, decay, now),
                accrual: self.config.accrual.map(FailureAccrual::new),
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15),
            })),
        }
    }

    fn metric(&self) -> LoadMetric {
        match self.config.policy {
            Policy::PeakEwma { .. } => LoadMetric::PeakEwma,
            _ => LoadMetric::PendingRequests,
        }
    }

    fn is_available(&self, slot: &Slot<S>, now: Instant) -> bool {
        if !slot.service.is_available(now) {
            return false;
        }
        if let Some(accrual) = lock(&slot.state).accrual.as_mut()
            && !accrual.is_available(now)
        {
            return false;
        }
        match &self.outlier {
            Some(outlier) => !lock(outlier).is_ejected(&slot.name, now),
            None => true,
        }
    }

    /// The endpoints that may take `request` now, as policy candidates.
    fn candidates(&self, avoid: &[String], now: Instant) -> Vec<Candidate> {
        let metric = self.metric();
        let all: Vec<usize> = (0..self.endpoints.len()).collect();
        let mut healthy: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| self.is_available(&self.endpoints[i], now))
            .collect();
        if let Some(threshold) = self.config.panic_threshold {
            let total = self.endpoints.len().max(1) as f64;
            if (healthy.len() as f64) * 100.0 / total < threshold {
                healthy = all;
            }
        }
        if !avoid.is_empty() {
            let fresh: Vec<usize> = healthy
                .iter()
                .copied()
                .filter(|&i| !avoid.contains(&self.endpoints[i].name))
                .collect();
            if !fresh.is_empty() {
                healthy = fresh;
            }
        }
        healthy
            .into_iter()
            .map(|i| {
                let slot = &self.endpoints[i];
                Candidate {
                    index: i,
                    load: lock(&slot.state).current_load(metric, now),
                    weight: slot.weight,
                }
            })
            .collect()
    }

    /// Names of the current endpoints, in discovery order.
    pub fn endpoint_names(&self) -> Vec<String> {
        self.endpoints.iter().map(|s| s.name.clone()).collect()
    }

    /// Picks an endpoint for a request (exposed for tests and benches).
    pub fn pick(&mut self, avoid: &[String]) -> Option<usize> {
        self.refresh(false);
        let now = Instant::now();
        if let Some(index) = self.pick_two_fast(avoid, now) {
            return Some(index);
        }
        // Round robin over the whole endpoint list, skipping those that
        // cannot take the request (Envoy's ROUND_ROBIN skips unhealthy
        // hosts the same way): O(1) while they are few. With nothing to
        // avoid and no panic threshold this is the policy itself; the full
        // path below handles the rest.
        if self.config.policy == Policy::RoundRobin
            && avoid.is_empty()
            && self.config.panic_threshold.is_none()
            && !self.endpoints.is_empty()
        {
            let n = self.endpoints.len();
            let start = self.cursor.peek(n);
            for k in 0..n {
                let i = (start + k) % n;
                if self.is_available(&self.endpoints[i], now) {
                    self.cursor.taken(i);
                    return Some(i);
                }
            }
        }
        let candidates = self.candidates(avoid, now);
        if candidates.is_empty() {
            return None;
        }
        let position = match self.config.policy {
            Policy::RoundRobin => self.cursor.pick(&candidates),
            Policy::Random => random::pick(&candidates, &mut self.rng),
            Policy::LeastRequest { choice_count } => {
                p2c::pick(&candidates, choice_count, &mut self.rng)
            }
            Policy::PeakEwma { .. } => p2c::pick(&candidates, 2, &mut self.rng),
            Policy::Weighted => weighted::pick(&candidates, &mut self.rng),
        };
        Some(candidates[position].index)
    }

    /// Power of two choices in O(1): draw two distinct endpoints from the
    /// whole list and, if both may take the request, keep the less loaded.
    /// Conditioned on acceptance the pair is uniform over available pairs,
    /// exactly what drawing from the filtered candidate list gives, so this
    /// is rejection sampling, not an approximation; on rejection (an
    /// endpoint backing off, ejected or to avoid) the O(n) path decides.
    /// Not used with a panic threshold, whose "route to all when too few
    /// are healthy" needs the healthy count.
    fn pick_two_fast(&mut self, avoid: &[String], now: Instant) -> Option<usize> {
        let metric = match self.config.policy {
            Policy::LeastRequest { choice_count: 2 } => LoadMetric::PendingRequests,
            Policy::PeakEwma { .. } => LoadMetric::PeakEwma,
            _ => return None,
        };
        let n = self.endpoints.len();
        if n < 2 || self.config.panic_threshold.is_some() {
            return None;
        }
        let a = self.rng.random_range(0..n);
        let mut b = self.rng.random_range(0..n - 1);
        if b >= a {
            b += 1;
        }
        let usable = |i: usize| {
            let slot = &self.endpoints[i];
            !avoid.contains(&slot.name) && self.is_available(slot, now)
        };
        if !usable(a) || !usable(b) {
            return None;
        }
        let load_a = lock(&self.endpoints[a].state).current_load(metric, now);
        let load_b = lock(&self.endpoints[b].state).current_load(metric, now);
        Some(if load_a <= load_b { a } else { b })
    }

    /// The state of endpoint `index` (for tests).
    pub fn state(&self, index: usize) -> Option<Arc<Mutex<EndpointState>>> {
        self.endpoints.get(index).map(|s| s.state.clone())
    }
}

impl EndpointState {
    /// Requests in flight.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Sets requests in flight (tests drive loads directly).
    pub fn set_pending(&mut self, pending: usize) {
        self.pending = pending;
    }

    /// The peak-EWMA estimator.
    pub fn ewma_mut(&mut self) -> &mut PeakEwma {
        &mut self.ewma
    }
}

impl<S> Service<Request<Buffered>> for Balance<S>
where
    S: EndpointService,
{
    type Response = Attempt;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Attempt, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Endpoints multiplex; an empty or unavailable set fails fast in
        // `call` (Linkerd's fail-fast) rather than queueing forever.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let avoid = request
            .extensions()
            .get::<PreviousHosts>()
            .map(|p| p.0.clone())
            .unwrap_or_default();
        let is_retry = request.extensions().get::<IsRetry>().is_some();
        let Some(index) = self.pick(&avoid) else {
            lock(&self.metrics).no_endpoints += 1;
            return Box::pin(std::future::ready(Ok(Attempt {
                endpoint: None,
                outcome: Outcome::NotSent,
                response: None,
            })));
        };
        let per_try = request.extensions().get::<PerTryTimeout>().map(|t| t.0);
        let slot = &mut self.endpoints[index];
        let name = slot.name.clone();
        let state = slot.state.clone();
        // tower's contract: `call` only after `poll_ready` said ready. HTTP/2
        // endpoints always are; anything else is treated as not sent.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if !matches!(slot.service.poll_ready(&mut cx), Poll::Ready(Ok(()))) {
            return Box::pin(std::future::ready(Ok(Attempt {
                endpoint: Some(name),
                outcome: Outcome::NotSent,
                response: None,
            })));
        }
        let start = Instant::now();
        {
            let mut s = lock(&state);
            s.pending += 1;
            if let Some(a) = s.accrual.as_mut() {
                a.on_dispatch(start);
            }
        }
        // Decrements `pending` however the attempt ends, even if the
        // caller drops it (an overall request timeout).
        let guard = PendingGuard(state.clone());
        let call = slot.service.call(request);
        let outlier = self.outlier.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let result = match per_try {
                Some(limit) => tokio::time::timeout(limit, call)
                    .await
                    .unwrap_or(Err(Outcome::Timeout)),
                None => call.await,
            };
            drop(guard);
            let now = Instant::now();
            let latency = now.saturating_duration_since(start);
            let (outcome, response) = match result {
                Ok(response) => (
                    Outcome::of_response(&response, response.body().trailers()),
                    Some(response),
                ),
                Err(outcome) => (outcome, None),
            };
            let failure = outcome.is_failure();
            let mut ejected = false;
            {
                let mut s = lock(&state);
                s.ewma.observe(latency, now);
                let EndpointState { accrual, rng, .. } = &mut *s;
                if let Some(a) = accrual.as_mut() {
                    let before = a.openings;
                    a.record(failure, now, rng);
                    ejected |= a.openings > before;
                }
            }
            if let Some(outlier) = &outlier {
                let mut o = lock(outlier);
                let before = o.ejections;
                o.record(&name, failure, now);
                ejected |= o.ejections > before;
            }
            {
                let mut m = lock(&metrics);
                let e: &mut EndpointMetrics = m.endpoints.entry(name.clone()).or_default();
                e.requests += 1;
                e.retries += u64::from(is_retry);
                if outcome == Outcome::Grpc(tonic::Code::Ok) {
                    e.successes += 1;
                } else {
                    *e.failures.entry(outcome.name().to_string()).or_insert(0) += 1;
                }
                e.latency.record(latency);
                e.ejections += u64::from(ejected);
            }
            Ok(Attempt {
                endpoint: Some(name),
                outcome,
                response,
            })
        })
    }
}

/// A balancer shared by every connection and retry of one sidecar route.
/// Picking holds the lock only synchronously; the attempt runs unlocked.
pub struct SharedBalance<S> {
    inner: Arc<Mutex<Balance<S>>>,
}

impl<S> Clone for SharedBalance<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S> SharedBalance<S> {
    /// Shares `balance`.
    pub fn new(balance: Balance<S>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(balance)),
        }
    }
}

impl<S> Service<Request<Buffered>> for SharedBalance<S>
where
    S: EndpointService,
{
    type Response = Attempt;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Attempt, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        lock(&self.inner).call(request)
    }
}

/// Sends `request` through `service` once it is ready.
pub async fn send<S>(service: &mut S, request: Request<Buffered>) -> Attempt
where
    S: Service<Request<Buffered>, Response = Attempt, Error = Infallible>,
{
    match service.ready().await {
        Ok(s) => match s.call(request).await {
            Ok(a) => a,
            Err(never) => match never {},
        },
        Err(never) => match never {},
    }
}
