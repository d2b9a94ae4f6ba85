//! The balancer service: one service's endpoint set, kept up to date from
//! discovery, and the configured policy's [`Picker`] choosing among them.

use super::policy::Endpoints;
use super::{
    Attempt, BalanceConfig, Candidate, EndpointService, MakeEndpoint, OnRefresh, Picker,
    PreviousHosts,
};
use crate::control::Endpoint;
use crate::proxy::body::Buffered;
use crate::proxy::classify::{Classified, Outcome};
use http::Request;
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

struct Slot<S> {
    name: String,
    addr: SocketAddr,
    weight: u32,
    service: S,
}

/// The balancer service.
pub struct Balance<S> {
    pub(super) config: BalanceConfig,
    endpoints: Vec<Slot<S>>,
    picker: Picker,
    rng: ChaCha8Rng,
    pub(super) discovery: watch::Receiver<Arc<Vec<Endpoint>>>,
    make: MakeEndpoint<S>,
    on_refresh: Option<OnRefresh>,
    /// A fail-fast wait timed out and no endpoint has been available since.
    pub(super) failing_fast: bool,
    /// Woken when an endpoint becomes ready (eager connections notify it).
    pub(super) ready: Arc<tokio::sync::Notify>,
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
        let picker = Picker::new(&config.policy, &mut own);
        let mut balance = Self {
            config,
            endpoints: Vec::new(),
            picker,
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
    ///
    /// Inlined: every pick asks, and almost always nothing changed; the
    /// rebuild is its own function so this check costs no call.
    #[inline]
    pub(super) fn refresh(&mut self, force: bool) {
        if force || self.discovery.has_changed().unwrap_or(false) {
            self.rebuild();
        }
    }

    /// Rebuilds the endpoint list from the latest set (see [`Self::refresh`]).
    fn rebuild(&mut self) {
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

    /// The endpoints that may take a request now, as policy candidates.
    pub(super) fn candidates(&self, avoid: &[String], now: Instant) -> Vec<Candidate> {
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
        let load_aware = self.picker.load_aware();
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

    /// Picks an endpoint for a request (exposed for tests and benches):
    /// the policy's O(1) path over the whole list when it has one and can
    /// decide, else the policy over the filtered candidates.
    pub fn pick(&mut self, avoid: &[String]) -> Option<usize> {
        self.refresh(false);
        let now = Instant::now();
        if self.config.panic_threshold.is_none() {
            let fast = self
                .picker
                .pick_fast(&self.endpoints[..], avoid, now, &mut self.rng);
            if fast.is_some() {
                return fast;
            }
        }
        let candidates = self.candidates(avoid, now);
        if candidates.is_empty() {
            return None;
        }
        let position = self.picker.pick(&candidates, now, &mut self.rng);
        Some(candidates[position].index)
    }
}

/// What a policy's O(1) path reads of the endpoint list.
impl<S: EndpointService> Endpoints for [Slot<S>] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }

    #[inline]
    fn name(&self, i: usize) -> &str {
        &self[i].name
    }

    #[inline]
    fn is_available(&self, i: usize, now: Instant) -> bool {
        self[i].service.is_available(now)
    }

    #[inline]
    fn load(&self, i: usize) -> f64 {
        self[i].service.load()
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
