//! The balancer: one service's endpoint set, and a policy that picks.
//!
//! For each request it (1) applies any endpoint-set change discovery has
//! delivered, (2) keeps the endpoints that may take traffic now (each
//! endpoint's stack answers [`Available`]: not in connect backoff, not
//! tripped by failure accrual, not ejected by outlier detection; or all of
//! them in Envoy's panic mode), (3) lets the policy pick one, comparing
//! loads through tower's [`Load`], and (4) sends the request down that
//! endpoint's stack. Everything that happens to the attempt after the pick
//! (load measurement, breakers, ejection, per-try timeout, metrics) is a
//! layer of the endpoint stack, assembled in [`super::stack`].
//!
//! Policies, one per module: [`round_robin`], [`random`], [`p2c`] (least
//! request or peak-EWMA, by the endpoint's measured load), [`weighted`].
//! Every random choice comes from the balancer's own seeded RNG
//! ([`Balance::from_rng`]).

pub mod p2c;
pub mod random;
pub mod round_robin;
pub mod weighted_random;
pub mod wrr;

mod shared;

pub use shared::{SharedBalance, send};

pub use super::available::Available;

use super::body::Buffered;
use super::classify::{Classified, Outcome};
use crate::control::Endpoint;
use http::{Request, Response};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::Service;
use tower::load::Load;

/// A balancing policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Policy {
    /// [`round_robin`].
    RoundRobin,
    /// [`random`].
    Random,
    /// [`p2c`] over the endpoints' load (requests in flight for Envoy's
    /// `LEAST_REQUEST`, peak-EWMA cost for Linkerd: whichever the endpoint
    /// stack measures).
    P2c {
        /// Random candidates compared per pick.
        choice_count: u32,
    },
    /// [`weighted`] random by per-pod weight.
    Weighted,
    /// [`wrr`]: weighted round robin by each endpoint's load-reported
    /// weight (its load), rebuilt every `update_period`.
    Wrr {
        /// gRFC A58 `weight_update_period`.
        update_period: std::time::Duration,
    },
}

/// What a policy sees of one available endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Index into the balancer's endpoint list.
    pub index: usize,
    /// The endpoint's load (read only for load-aware policies; 0 otherwise).
    pub load: f64,
    /// The endpoint's weight.
    pub weight: u32,
}

/// What the balancer needs of an endpoint's stack (a trait alias).
pub trait EndpointService:
    Service<Request<Buffered>, Response = Classified, Error = Outcome, Future: Send + 'static>
    + Available
    + Load<Metric = f64>
    + Send
    + 'static
{
}

impl<S> EndpointService for S where
    S: Service<Request<Buffered>, Response = Classified, Error = Outcome, Future: Send + 'static>
        + Available
        + Load<Metric = f64>
        + Send
        + 'static
{
}

/// Request extension: endpoints earlier attempts of this request went to
/// (Envoy's `previous_hosts` retry predicate avoids them when it can).
#[derive(Debug, Clone, Default)]
pub struct PreviousHosts(pub Vec<String>);

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

/// Builds the stack for a discovered endpoint; the `u64` is a seed for the
/// endpoint's own randomness.
pub type MakeEndpoint<S> = Box<dyn Fn(&Endpoint, u64) -> S + Send>;

/// Told the endpoint names after each change of the set (outlier detection
/// keeps per-host state for exactly these).
pub type OnRefresh = Box<dyn FnMut(&[String]) + Send>;

/// What a request does when the balancer has no available endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEndpoint {
    /// Fail at once (Envoy: "no healthy upstream", HTTP 503).
    Fail,
    /// Linkerd's balancer queue: wait up to this long for an endpoint to
    /// become ready; when the timer fires, the queued requests fail and the
    /// balancer sheds load (fails new requests at once) until an endpoint
    /// is ready again (linkerd2-proxy `linkerd/proxy/balance/queue/src/`
    /// `worker.rs` and `failfast.rs`; 3 s outbound, 1 s inbound,
    /// `linkerd/app/src/env.rs`). The wait is reported as its own queue
    /// ("a ready endpoint").
    FailFast(std::time::Duration),
}

/// Balancer settings.
#[derive(Debug, Clone)]
pub struct BalanceConfig {
    /// The policy.
    pub policy: Policy,
    /// Envoy's healthy panic threshold (percent); `None` fails fast when
    /// no endpoint is available (Linkerd).
    pub panic_threshold: Option<f64>,
    /// What a request does when no endpoint is available.
    pub no_endpoint: NoEndpoint,
    /// Weights by pod name (default 1).
    pub weights: BTreeMap<String, u32>,
}

struct Slot<S> {
    name: String,
    addr: SocketAddr,
    weight: u32,
    service: S,
}

/// The balancer service.
pub struct Balance<S> {
    config: BalanceConfig,
    endpoints: Vec<Slot<S>>,
    cursor: round_robin::RoundRobin,
    wrr: wrr::Wrr,
    rng: ChaCha8Rng,
    discovery: watch::Receiver<Arc<Vec<Endpoint>>>,
    make: MakeEndpoint<S>,
    on_refresh: Option<OnRefresh>,
    /// A fail-fast wait timed out and no endpoint has been available since.
    failing_fast: bool,
    /// Woken when an endpoint becomes ready (eager connections notify it).
    ready: Arc<tokio::sync::Notify>,
}

// === impl Balance ===

impl<S: EndpointService> Balance<S> {
    /// A balancer whose random choices come from `rng` (as
    /// `tower::balance::p2c::Balance::from_rng`), watching `discovery` and
    /// building each endpoint's stack with `make`.
    pub fn from_rng<R: Rng + ?Sized>(
        config: BalanceConfig,
        discovery: watch::Receiver<Arc<Vec<Endpoint>>>,
        make: MakeEndpoint<S>,
        on_refresh: Option<OnRefresh>,
        rng: &mut R,
    ) -> Self {
        let mut own = ChaCha8Rng::seed_from_u64(rng.random());
        // Drawn only for WRR, so other policies' random streams stay put.
        let start = match config.policy {
            Policy::Wrr { .. } => own.random(),
            _ => 0,
        };
        let mut balance = Self {
            config,
            endpoints: Vec::new(),
            cursor: round_robin::RoundRobin::default(),
            wrr: wrr::Wrr::new(start),
            rng: own,
            discovery,
            make,
            on_refresh,
            failing_fast: false,
            ready: Arc::default(),
        };
        balance.refresh(true);
        balance
    }

    /// Waits in the fail-fast queue end as soon as `ready` is notified (the
    /// endpoints' connections notify it when they connect), instead of at
    /// the next re-check.
    pub fn with_readiness(mut self, ready: Arc<tokio::sync::Notify>) -> Self {
        self.ready = ready;
        self
    }

    /// Applies the latest endpoint set if discovery changed it: endpoints
    /// that stay (same pod, same address) keep their stack and its state;
    /// new ones get a fresh stack. O(n log n) in the set's size.
    fn refresh(&mut self, force: bool) {
        if !force && !self.discovery.has_changed().unwrap_or(false) {
            return;
        }
        let latest = self.discovery.borrow_and_update().clone();
        let mut old: BTreeMap<(String, SocketAddr), Slot<S>> = std::mem::take(&mut self.endpoints)
            .into_iter()
            .map(|s| ((s.name.clone(), s.addr), s))
            .collect();
        for e in latest.iter().filter(|e| e.ready) {
            let slot = match old.remove(&(e.pod.clone(), e.addr)) {
                Some(slot) => slot,
                None => {
                    let seed: u64 = self.rng.random();
                    Slot {
                        name: e.pod.clone(),
                        addr: e.addr,
                        weight: self.config.weights.get(&e.pod).copied().unwrap_or(1),
                        service: (self.make)(e, seed),
                    }
                }
            };
            self.endpoints.push(slot);
        }
        if let Some(on_refresh) = self.on_refresh.as_mut() {
            let names: Vec<String> = self.endpoints.iter().map(|s| s.name.clone()).collect();
            on_refresh(&names);
        }
    }

    fn load_aware(&self) -> bool {
        matches!(self.config.policy, Policy::P2c { .. } | Policy::Wrr { .. })
    }

    /// The endpoints that may take a request now, as policy candidates.
    fn candidates(&self, avoid: &[String], now: Instant) -> Vec<Candidate> {
        let all: Vec<usize> = (0..self.endpoints.len()).collect();
        let mut healthy: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| self.endpoints[i].service.is_available(now))
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
        let load_aware = self.load_aware();
        healthy
            .into_iter()
            .map(|i| {
                let slot = &self.endpoints[i];
                Candidate {
                    index: i,
                    load: if load_aware { slot.service.load() } else { 0.0 },
                    weight: slot.weight,
                }
            })
            .collect()
    }

    /// Names of the current endpoints, in discovery order.
    pub fn endpoint_names(&self) -> Vec<String> {
        self.endpoints.iter().map(|s| s.name.clone()).collect()
    }

    /// How many endpoints can take a request now, of how many (applies
    /// discovery; draws nothing from the RNG).
    pub fn available(&mut self) -> (usize, usize) {
        self.refresh(false);
        let now = Instant::now();
        let up = self
            .endpoints
            .iter()
            .filter(|slot| slot.service.is_available(now))
            .count();
        (up, self.endpoints.len())
    }

    /// The stack of endpoint `index` (for tests: its load, its state).
    pub fn endpoint(&self, index: usize) -> Option<&S> {
        self.endpoints.get(index).map(|s| &s.service)
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
        if matches!(self.config.policy, Policy::RoundRobin)
            && avoid.is_empty()
            && self.config.panic_threshold.is_none()
            && !self.endpoints.is_empty()
        {
            let n = self.endpoints.len();
            let start = self.cursor.peek(n);
            for k in 0..n {
                let i = (start + k) % n;
                if self.endpoints[i].service.is_available(now) {
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
            Policy::P2c { choice_count } => p2c::pick(&candidates, choice_count, &mut self.rng),
            Policy::Weighted => weighted_random::pick(&candidates, &mut self.rng),
            Policy::Wrr { update_period } => self.wrr.pick(&candidates, now, update_period),
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
        if !matches!(self.config.policy, Policy::P2c { choice_count: 2 }) {
            return None;
        }
        let n = self.endpoints.len();
        if n < 2 || self.config.panic_threshold.is_some() {
            return None;
        }
        let (a, b) = p2c::distinct_pair(n, &mut self.rng);
        let usable = |i: usize| {
            let slot = &self.endpoints[i];
            !avoid.contains(&slot.name) && slot.service.is_available(now)
        };
        if !usable(a) || !usable(b) {
            return None;
        }
        let load_a = self.endpoints[a].service.load();
        let load_b = self.endpoints[b].service.load();
        Some(if load_a <= load_b { a } else { b })
    }
}

fn not_sent(endpoint: Option<String>) -> Attempt {
    Attempt {
        endpoint,
        outcome: Outcome::NotSent,
        response: None,
    }
}

impl<S: EndpointService> Service<Request<Buffered>> for Balance<S> {
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
        let Some(index) = self.pick(&avoid) else {
            return Box::pin(std::future::ready(Ok(not_sent(None))));
        };
        let slot = &mut self.endpoints[index];
        let name = slot.name.clone();
        // tower's contract: `call` only after `poll_ready` said ready. The
        // endpoint stacks always are (HTTP/2 multiplexes; health is
        // `Available`); anything else is treated as not sent.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if !matches!(slot.service.poll_ready(&mut cx), Poll::Ready(Ok(()))) {
            return Box::pin(std::future::ready(Ok(not_sent(Some(name)))));
        }
        let call = slot.service.call(request);
        Box::pin(async move {
            let (outcome, response) = match call.await {
                Ok(Classified { outcome, response }) => (outcome, Some(response)),
                Err(outcome) => (outcome, None),
            };
            Ok(Attempt {
                endpoint: Some(name),
                outcome,
                response,
            })
        })
    }
}
