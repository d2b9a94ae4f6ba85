//! Retries: send a failed request again, within limits.
//!
//! Why: a request that failed because its endpoint just died, or refused it
//! before doing any work, will very likely succeed on another endpoint;
//! retrying hides the failure from the application. But retries add load
//! exactly when the system is struggling, so they are bounded three ways:
//! per request (`max_retries`), by a [`RetryBudget`] (Linkerd: a share of
//! recent traffic) and by a concurrent-retry circuit breaker (Envoy
//! `max_retries`, default 3). Between tries there is a [`Backoff`]: Envoy's
//! fully jittered one (random in `[0, (2^n − 1) × base]`, capped at `max`;
//! base 25 ms, max 10 × base) or linkerd2-proxy's exponential one for
//! HTTPRoute retries (`min × 2^(n−1)` plus up to `jitter` of that, capped at
//! `max`); Linkerd's ServiceProfile retries have none.
//!
//! A request whose body was longer than
//! [`REPLAY_BUFFER_CAP`](super::body::REPLAY_BUFFER_CAP) was streamed, not
//! kept: it is never retried (only re-dispatched while no attempt has read
//! its body), as linkerd2-proxy does not retry a body past its `ReplayBody`
//! cap.
//!
//! Only outcomes the server cannot have acted on are retried (connect
//! failure, refused stream, `UNAVAILABLE`), unless the route is marked
//! idempotent, in which case any server-error outcome (including a per-try
//! timeout) is retried. Retries prefer endpoints not tried before (Envoy's
//! `previous_hosts` predicate, which Istio installs by default).

use super::balance::{Attempt, IsRetry, MAX_REPICKS, PreviousHosts, Repick, send};
use super::body::Buffered;
use super::budget::{BudgetConfig, RetryBudget};
use super::classify::Outcome;
use super::metrics::{ProxyMetrics, Recorder};

pub use super::backoff::{
    Backoff, ENVOY_BACKOFF_BASE, ENVOY_BACKOFF_MAX, LINKERD_ROUTE_RETRY_BACKOFF_JITTER,
    LINKERD_ROUTE_RETRY_BACKOFF_MAX, LINKERD_ROUTE_RETRY_BACKOFF_MIN, backoff_delay,
};
use crate::sync::lock;
use http::Request;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::time::Instant;
use tower::Service;

/// Envoy's default `max_retries` circuit-breaker threshold (concurrent
/// retries per cluster).
pub const ENVOY_MAX_CONCURRENT_RETRIES: u32 = 3;

/// `max_retries` meaning "no per-request limit" (Linkerd ServiceProfile
/// retries: only the budget bounds them).
pub const UNLIMITED_RETRIES: u32 = u32::MAX;

/// Retry settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Retries per request after the first try (0 = retries off;
    /// [`UNLIMITED_RETRIES`]: no per-request limit).
    pub max_retries: u32,
    /// The route is idempotent: retry any server-error outcome.
    pub idempotent: bool,
    /// Linkerd-style budget, if any.
    pub budget: Option<BudgetConfig>,
    /// Envoy-style limit on retries in flight at once, if any.
    pub max_concurrent_retries: Option<u32>,
    /// Backoff between tries; `None` retries at once.
    pub backoff: Option<Backoff>,
    /// Prefer endpoints not tried before.
    pub avoid_previous_hosts: bool,
}

impl RetryConfig {
    /// No retries.
    pub const OFF: RetryConfig = RetryConfig {
        max_retries: 0,
        idempotent: false,
        budget: None,
        max_concurrent_retries: None,
        backoff: None,
        avoid_previous_hosts: false,
    };
}

/// Wraps a (shared, cloneable) balancer in [`Retry`].
#[derive(Debug, Clone)]
pub struct RetryLayer {
    config: RetryConfig,
    seed: u64,
    metrics: Arc<Mutex<ProxyMetrics>>,
    redispatch: u32,
}

impl RetryLayer {
    /// Retries by `config`; backoff jitter comes from `seed`; request-level
    /// counters go to `metrics`.
    pub fn new(config: RetryConfig, seed: u64, metrics: Arc<Mutex<ProxyMetrics>>) -> Self {
        Self {
            config,
            seed,
            metrics,
            redispatch: 0,
        }
    }

    /// Sends a request that provably never reached its endpoint (connect
    /// failed, refused, above a GOAWAY, picked just as its connection
    /// closed) to another endpoint, up to `n` times per request, without
    /// counting it as a retry: no retry limit, budget or breaker applies,
    /// as nothing was sent (meshsim's `sidecar:<policy>` strategies).
    pub fn with_redispatch(mut self, n: u32) -> Self {
        self.redispatch = n;
        self
    }
}

impl<S> tower::Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        let mut retry = Retry::new(inner, self.config, self.seed, self.metrics.clone());
        retry.redispatch = self.redispatch;
        retry
    }
}

/// Holds one of the route's concurrent-retry slots (Envoy's `max_retries`
/// circuit breaker) from the moment a retry is granted until its attempt
/// ends, however it ends: a request dropped during the backoff or the
/// attempt (request timeout, client reset) gives its slot back.
struct RetrySlot(Arc<AtomicU32>);

impl RetrySlot {
    fn take(in_flight: &Arc<AtomicU32>) -> Self {
        in_flight.fetch_add(1, Ordering::Relaxed);
        Self(in_flight.clone())
    }
}

impl Drop for RetrySlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The retry service around a (shared, cloneable) balancer.
pub struct Retry<S> {
    inner: S,
    config: RetryConfig,
    budget: Option<Arc<Mutex<RetryBudget>>>,
    in_flight_retries: Arc<AtomicU32>,
    rng: Arc<Mutex<ChaCha8Rng>>,
    metrics: Recorder,
    /// Re-dispatches of never-sent requests allowed per request.
    redispatch: u32,
}

impl<S: Clone> Clone for Retry<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config,
            budget: self.budget.clone(),
            in_flight_retries: self.in_flight_retries.clone(),
            rng: self.rng.clone(),
            metrics: self.metrics.clone(),
            redispatch: self.redispatch,
        }
    }
}

impl<S> Retry<S> {
    /// The service retried over.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Wraps `inner`; backoff jitter comes from `seed`.
    pub fn new(
        inner: S,
        config: RetryConfig,
        seed: u64,
        metrics: Arc<Mutex<ProxyMetrics>>,
    ) -> Self {
        Self {
            inner,
            config,
            budget: config
                .budget
                .map(|b| Arc::new(Mutex::new(RetryBudget::new(b)))),
            in_flight_retries: Arc::new(AtomicU32::new(0)),
            rng: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed))),
            metrics: Recorder::new(metrics),
            redispatch: 0,
        }
    }
}

fn copy_request(request: &Request<Buffered>) -> Request<Buffered> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

impl<S> Service<Request<Buffered>> for Retry<S>
where
    S: Service<Request<Buffered>, Response = Attempt, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Attempt;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Attempt, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if let Some(budget) = &this.budget {
                lock(budget).deposit(Instant::now());
            }
            this.metrics.request();
            let mut inner = this.inner.clone();
            let mut tries = Tries::default();
            loop {
                let attempt_request = tries.request(&request, this.config.avoid_previous_hosts);
                if tries.unsent.is_empty() && tries.unready.is_empty() {
                    this.metrics.attempt();
                }
                let attempt = send(&mut inner, attempt_request).await;
                // The endpoint picked turned out not ready: the balancer
                // picks again among the others, within the same attempt.
                if attempt.outcome == Outcome::Unready
                    && let Some(endpoint) = &attempt.endpoint
                    && tries.unready.len() < MAX_REPICKS
                {
                    tries.unready.push(endpoint.to_string());
                    continue;
                }
                tries.unready.clear();
                if attempt.endpoint.is_none() {
                    this.metrics.no_endpoint();
                }
                if this.redispatches(&attempt, &mut tries, &request) {
                    continue;
                }
                tries.unsent.clear();
                // The retry (if this was one) is over: its slot is free.
                drop(tries.slot.take());
                // No endpoint to send to is answered at once, not retried
                // (Envoy's router sends its "no healthy upstream" local
                // reply without consulting the retry policy; Linkerd fails
                // the requests its fail-fast queue times out).
                if attempt.endpoint.is_none()
                    || !this.grants_retry(attempt.outcome, tries.retries, &request)
                {
                    return Ok(attempt);
                }
                tries.slot = Some(RetrySlot::take(&this.in_flight_retries));
                this.metrics.retry();
                tries.retries += 1;
                if let Some(endpoint) = attempt.endpoint {
                    tries.tried.push(endpoint.to_string());
                }
                if let Some(backoff) = this.config.backoff {
                    let delay = backoff.delay(tries.retries, &mut *lock(&this.rng));
                    tokio::time::sleep(delay).await;
                }
            }
        })
    }
}

/// One request's way through its tries.
#[derive(Default)]
struct Tries {
    /// Endpoints earlier tries went to.
    tried: Vec<String>,
    /// Retries granted so far.
    retries: u32,
    /// The concurrent-retry slot of the retry in flight, if any.
    slot: Option<RetrySlot>,
    /// Endpoints this try was re-dispatched away from.
    unsent: Vec<String>,
    /// Endpoints this attempt picked that turned out not ready (re-picked
    /// within the attempt, [`MAX_REPICKS`] at most).
    unready: Vec<String>,
}

impl Tries {
    /// The next attempt's copy of `request`, marked as a retry and told
    /// which endpoints to avoid (those tried, with `avoid_previous_hosts`;
    /// those this try was re-dispatched away from; those this attempt
    /// found not ready, then marked a re-pick). The only copy an attempt
    /// makes.
    fn request(
        &self,
        request: &Request<Buffered>,
        avoid_previous_hosts: bool,
    ) -> Request<Buffered> {
        let mut attempt = copy_request(request);
        if self.retries > 0 {
            attempt.extensions_mut().insert(IsRetry);
        }
        let avoid_tried = self.retries > 0 && avoid_previous_hosts;
        if avoid_tried || !self.unsent.is_empty() || !self.unready.is_empty() {
            let mut avoid = if avoid_tried {
                self.tried.clone()
            } else {
                Vec::new()
            };
            avoid.extend(self.unsent.iter().cloned());
            avoid.extend(self.unready.iter().cloned());
            attempt.extensions_mut().insert(PreviousHosts(avoid));
        }
        if !self.unready.is_empty() {
            attempt.extensions_mut().insert(Repick);
        }
        attempt
    }
}

impl<S> Retry<S> {
    /// Whether `attempt`, which provably never reached its endpoint, goes
    /// to another one (not a retry: nothing was sent), and if so notes the
    /// endpoint to avoid.
    fn redispatches(
        &self,
        attempt: &Attempt,
        tries: &mut Tries,
        request: &Request<Buffered>,
    ) -> bool {
        if matches!(
            attempt.outcome,
            Outcome::NotSent | Outcome::ConnectFailed | Outcome::Unready
        ) && let Some(endpoint) = &attempt.endpoint
            && tries.unsent.len() < self.redispatch as usize
            && request.body().can_resend()
        {
            self.metrics.redispatched();
            tries.unsent.push(endpoint.to_string());
            return true;
        }
        false
    }

    /// Whether a try that ended as `outcome`, after `retries` retries, is
    /// retried: a retryable outcome, under the per-request limit, with the
    /// body still in hand, then the concurrent-retry breaker and the
    /// budget (a refusal by either is counted).
    fn grants_retry(&self, outcome: Outcome, retries: u32, request: &Request<Buffered>) -> bool {
        let config = &self.config;
        let retryable = outcome.is_failure() && (outcome.is_safe_to_retry() || config.idempotent);
        // A body past the replay cap was streamed to this attempt: there
        // is nothing to send again (linkerd2-proxy's rule).
        if !retryable || retries >= config.max_retries || !request.body().is_complete() {
            return false;
        }
        if let Some(max) = config.max_concurrent_retries
            && self.in_flight_retries.load(Ordering::Relaxed) >= max
        {
            self.metrics.retry_refused();
            return false;
        }
        if let Some(budget) = &self.budget
            && !lock(budget).try_withdraw(Instant::now())
        {
            self.metrics.retry_refused();
            return false;
        }
        true
    }
}
