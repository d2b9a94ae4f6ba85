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
    /// Shared with every attempt's [`Attempt::endpoint`] (no copy per
    /// request).
    name: Arc<str>,
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
    /// The candidate list's buffer, reused by every pick that needs one.
    scratch: Vec<Candidate>,
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
            scratch: Vec::new(),
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
        let mut old: BTreeMap<(Arc<str>, SocketAddr), Slot<S>> =
            std::mem::take(&mut self.endpoints)
                .into_iter()
                .map(|s| ((s.name.clone(), s.addr), s))
                .collect();
        for e in latest.iter().filter(|e| e.ready) {
            let slot = match old.remove(&(Arc::from(e.pod.as_str()), e.addr)) {
                Some(slot) => slot,
                None => {
                    let seed: u64 = self.rng.random();
                    Slot {
                        name: e.pod.as_str().into(),
                        addr: e.addr,
                        weight: self.config.weights.get(&e.pod).copied().unwrap_or(1),
                        service: (self.make)(e, seed),
                    }
                }
            };
            self.endpoints.push(slot);
        }
        self.picker.rebuilt(&self.endpoints[..]);
        if let Some(on_refresh) = self.on_refresh.as_mut() {
            let names: Vec<String> = self.endpoints.iter().map(|s| s.name.to_string()).collect();
            on_refresh(&names);
        }
    }

    /// The endpoints that may take a request now, as policy candidates,
    /// into `out` (cleared first: a pick reuses one buffer instead of
    /// allocating three lists).
    fn candidates_into(&self, avoid: &[String], now: Instant, out: &mut Vec<Candidate>) {
        let load_aware = self.picker.load_aware();
        let candidate = |i: usize| {
            let slot = &self.endpoints[i];
            Candidate {
                index: i,
                load: if load_aware { slot.service.load() } else { 0.0 },
                weight: slot.weight,
            }
        };
        out.clear();
        // Loads are read only for the endpoints that end up candidates
        // (reading a peak-EWMA cost persists its decay).
        let available = |i: &usize| self.endpoints[*i].service.is_available(now);
        let mut healthy = (0..self.endpoints.len()).filter(available).count();
        let all = self.panic_mode(healthy);
        if all {
            healthy = self.endpoints.len();
        }
        let usable = |i: usize| all || self.endpoints[i].service.is_available(now);
        let fresh = |i: usize| !avoid.iter().any(|a| **a == *self.endpoints[i].name);
        let avoiding = !avoid.is_empty()
            && healthy > 0
            && (0..self.endpoints.len()).any(|i| usable(i) && fresh(i));
        out.extend(
            (0..self.endpoints.len())
                .filter(|&i| usable(i) && (!avoiding || fresh(i)))
                .map(candidate),
        );
    }

    /// Envoy's panic mode: with a threshold, when fewer than that share of
    /// the endpoints is healthy, every endpoint is a candidate.
    fn panic_mode(&self, healthy: usize) -> bool {
        self.config.panic_threshold.is_some_and(|threshold| {
            let total = self.endpoints.len().max(1) as f64;
            (healthy as f64) * 100.0 / total < threshold
        })
    }

    /// Whether some endpoint is a candidate with nothing to avoid
    /// (`!candidates(&[], now).is_empty()`). For a load-aware policy the
    /// list is built as before, into the reused buffer: reading an
    /// endpoint's load persists its peak-EWMA decay at `now`, and a run
    /// must read the loads when it always did (skipping these reads moved
    /// `linkerd+route-retry+accrual` in `fast-errors` by floating-point
    /// rounding). Otherwise no list is built at all.
    pub(super) fn any_candidate(&mut self, now: Instant) -> bool {
        if self.picker.load_aware() {
            let mut candidates = std::mem::take(&mut self.scratch);
            self.candidates_into(&[], now, &mut candidates);
            let any = !candidates.is_empty();
            self.scratch = candidates;
            return any;
        }
        let healthy = self
            .endpoints
            .iter()
            .any(|slot| slot.service.is_available(now));
        healthy || (!self.endpoints.is_empty() && self.panic_mode(0))
    }

    /// Names of the current endpoints, in discovery order.
    pub fn endpoint_names(&self) -> Vec<String> {
        self.endpoints.iter().map(|s| s.name.to_string()).collect()
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
        self.pick_among_candidates(avoid, now)
    }

    /// The policy over the filtered candidates (the path a pick takes when
    /// the policy's O(1) path cannot decide). Not inlined, so that the O(1)
    /// path above stays as short as it was.
    #[inline(never)]
    fn pick_among_candidates(&mut self, avoid: &[String], now: Instant) -> Option<usize> {
        let mut candidates = std::mem::take(&mut self.scratch);
        self.candidates_into(avoid, now, &mut candidates);
        let picked = (!candidates.is_empty()).then(|| {
            let position = self.picker.pick(&candidates, now, &mut self.rng);
            candidates[position].index
        });
        self.scratch = candidates;
        picked
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

    #[inline]
    fn weight(&self, i: usize) -> u32 {
        self[i].weight
    }
}

fn not_sent(endpoint: Option<Arc<str>>) -> Attempt {
    Attempt {
        endpoint,
        outcome: Outcome::NotSent,
        response: None,
    }
}

/// One attempt through the balancer: answered at once (no endpoint, or it
/// was not ready), or the picked endpoint's call, named when it ends. A
/// plain enum over the endpoint stack's `Unpin` future rather than a boxed
/// `async` block: no allocation and no virtual call per request.
pub enum AttemptFuture<F> {
    /// Not sent: no endpoint was available, or the one picked was not
    /// ready (`None` once answered).
    NotSent(Option<Option<Arc<str>>>),
    /// The endpoint's call.
    Call {
        /// The endpoint stack's future.
        call: F,
        /// The endpoint picked.
        endpoint: Option<Arc<str>>,
    },
}

impl<F> Future for AttemptFuture<F>
where
    F: Future<Output = Result<Classified, Outcome>> + Unpin,
{
    type Output = Result<Attempt, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            AttemptFuture::NotSent(endpoint) => match endpoint.take() {
                Some(endpoint) => Poll::Ready(Ok(not_sent(endpoint))),
                None => Poll::Pending,
            },
            AttemptFuture::Call { call, endpoint } => {
                let (outcome, response) = match std::task::ready!(Pin::new(call).poll(cx)) {
                    Ok(Classified { outcome, response }) => (outcome, Some(response)),
                    Err(outcome) => (outcome, None),
                };
                Poll::Ready(Ok(Attempt {
                    endpoint: endpoint.take(),
                    outcome,
                    response,
                }))
            }
        }
    }
}

impl<S: EndpointService> Service<Request<Buffered>> for Balance<S> {
    type Response = Attempt;
    type Error = Infallible;
    type Future = AttemptFuture<S::Future>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Endpoints multiplex; an empty or unavailable set fails fast in
        // `call` (Linkerd's fail-fast) rather than queueing forever.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let picked = match request.extensions().get::<PreviousHosts>() {
            Some(previous) => self.pick(&previous.0),
            None => self.pick(&[]),
        };
        let Some(index) = picked else {
            return AttemptFuture::NotSent(Some(None));
        };
        let slot = &mut self.endpoints[index];
        let name = slot.name.clone();
        // tower's contract: `call` only after `poll_ready` said ready. The
        // endpoint stacks always are (HTTP/2 multiplexes; health is
        // `Available`); anything else is treated as not sent.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if !matches!(slot.service.poll_ready(&mut cx), Poll::Ready(Ok(()))) {
            return AttemptFuture::NotSent(Some(Some(name)));
        }
        AttemptFuture::Call {
            call: slot.service.call(request),
            endpoint: Some(name),
        }
    }
}
