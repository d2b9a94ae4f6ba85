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

use super::balance::{Attempt, IsRetry, PreviousHosts, send};
use super::body::Buffered;
use super::budget::{BudgetConfig, RetryBudget};
use super::classify::Outcome;
use super::metrics::{ProxyMetrics, Recorder};
use crate::sync::lock;
use http::Request;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tower::Service;

/// Envoy's default retry back-off base interval (router filter docs).
pub const ENVOY_BACKOFF_BASE: Duration = Duration::from_millis(25);
/// Envoy's default retry back-off max interval: 10 × the base.
pub const ENVOY_BACKOFF_MAX: Duration = Duration::from_millis(250);
/// Envoy's default `max_retries` circuit-breaker threshold (concurrent
/// retries per cluster).
pub const ENVOY_MAX_CONCURRENT_RETRIES: u32 = 3;

/// linkerd2-proxy's backoff before an HTTPRoute/GRPCRoute retry (Linkerd
/// 2.16+): the policy controller sends `min_backoff` 25 ms, `max_backoff`
/// 250 ms, `jitter_ratio` 1.0 with every route retry (linkerd/linkerd2
/// `policy-controller/grpc/src/outbound/grpc.rs` and `.../outbound/http.rs`,
/// `convert_retry`); the proxy waits one step of its `ExponentialBackoff`
/// before each retry (linkerd/linkerd2-proxy `linkerd/http/retry/src/lib.rs`,
/// `backoff.next().await`; `linkerd/exp-backoff/src/lib.rs`).
pub const LINKERD_ROUTE_RETRY_BACKOFF_MIN: Duration = Duration::from_millis(25);
/// See [`LINKERD_ROUTE_RETRY_BACKOFF_MIN`].
pub const LINKERD_ROUTE_RETRY_BACKOFF_MAX: Duration = Duration::from_millis(250);
/// See [`LINKERD_ROUTE_RETRY_BACKOFF_MIN`].
pub const LINKERD_ROUTE_RETRY_BACKOFF_JITTER: f64 = 1.0;
/// `max_retries` meaning "no per-request limit" (Linkerd ServiceProfile
/// retries: only the budget bounds them).
pub const UNLIMITED_RETRIES: u32 = u32::MAX;

/// The wait before a retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backoff {
    /// Envoy's: random in `[0, (2^n − 1) × base]`, capped at `max`.
    FullJitter {
        /// Base interval.
        base: Duration,
        /// Cap.
        max: Duration,
    },
    /// linkerd2-proxy's `ExponentialBackoff`: `min × 2^(n−1)` capped at
    /// `max`, plus a random share `0..=jitter` of that, the total capped at
    /// `max`.
    Exponential {
        /// First step.
        min: Duration,
        /// Cap.
        max: Duration,
        /// Largest random extra, as a share of the step.
        jitter: f64,
    },
}

impl Backoff {
    /// Linkerd's HTTPRoute retry backoff.
    pub const LINKERD_ROUTE: Backoff = Backoff::Exponential {
        min: LINKERD_ROUTE_RETRY_BACKOFF_MIN,
        max: LINKERD_ROUTE_RETRY_BACKOFF_MAX,
        jitter: LINKERD_ROUTE_RETRY_BACKOFF_JITTER,
    };

    /// The wait before retry number `n` (1-based).
    pub fn delay<R: Rng + ?Sized>(&self, n: u32, rng: &mut R) -> Duration {
        match *self {
            Backoff::FullJitter { base, max } => backoff_delay(n, base, max, rng),
            Backoff::Exponential { min, max, jitter } => {
                super::backoff::exponential(min, max, n.saturating_sub(1), jitter, rng).min(max)
            }
        }
    }
}

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

/// Envoy's fully jittered backoff before retry number `n` (1-based).
pub fn backoff_delay<R: Rng + ?Sized>(
    n: u32,
    base: Duration,
    max: Duration,
    rng: &mut R,
) -> Duration {
    let factor = (1u64 << n.min(32)).saturating_sub(1);
    let ceiling = base
        .saturating_mul(u32::try_from(factor).unwrap_or(u32::MAX))
        .min(max);
    if ceiling.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_nanos(
        rng.random_range(0..=u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX)),
    )
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
            let config = this.config;
            if let Some(budget) = &this.budget {
                lock(budget).deposit(Instant::now());
            }
            this.metrics.request();
            let mut inner = this.inner.clone();
            let mut tried: Vec<String> = Vec::new();
            let mut retries = 0u32;
            let mut slot: Option<RetrySlot> = None;
            // Endpoints this try was re-dispatched away from.
            let mut unsent: Vec<String> = Vec::new();
            loop {
                let mut attempt_request = copy_request(&request);
                if retries > 0 {
                    attempt_request.extensions_mut().insert(IsRetry);
                }
                let avoid_tried = retries > 0 && config.avoid_previous_hosts;
                if avoid_tried || !unsent.is_empty() {
                    let mut avoid = if avoid_tried {
                        tried.clone()
                    } else {
                        Vec::new()
                    };
                    avoid.extend(unsent.iter().cloned());
                    attempt_request
                        .extensions_mut()
                        .insert(PreviousHosts(avoid));
                }
                if unsent.is_empty() {
                    this.metrics.attempt();
                }
                let attempt = send(&mut inner, attempt_request).await;
                if attempt.endpoint.is_none() {
                    this.metrics.no_endpoint();
                }
                let outcome = attempt.outcome;
                if matches!(
                    outcome,
                    Outcome::NotSent | Outcome::ConnectFailed | Outcome::Unready
                ) && let Some(endpoint) = &attempt.endpoint
                    && unsent.len() < this.redispatch as usize
                    && request.body().can_resend()
                {
                    this.metrics.redispatched();
                    unsent.push(endpoint.clone());
                    continue;
                }
                unsent.clear();
                // The retry (if this was one) is over: its slot is free.
                drop(slot.take());
                // No endpoint to send to is answered at once, not retried
                // (Envoy's router sends its "no healthy upstream" local
                // reply without consulting the retry policy; Linkerd fails
                // the requests its fail-fast queue times out).
                if attempt.endpoint.is_none() {
                    return Ok(attempt);
                }
                let retryable =
                    outcome.is_failure() && (outcome.is_safe_to_retry() || config.idempotent);
                // A body past the replay cap was streamed to this attempt:
                // there is nothing to send again (linkerd2-proxy's rule).
                if !retryable || retries >= config.max_retries || !request.body().is_complete() {
                    return Ok(attempt);
                }
                // The concurrent-retry breaker, then the budget.
                if let Some(max) = config.max_concurrent_retries
                    && this.in_flight_retries.load(Ordering::Relaxed) >= max
                {
                    this.metrics.retry_refused();
                    return Ok(attempt);
                }
                if let Some(budget) = &this.budget
                    && !lock(budget).try_withdraw(Instant::now())
                {
                    this.metrics.retry_refused();
                    return Ok(attempt);
                }
                slot = Some(RetrySlot::take(&this.in_flight_retries));
                this.metrics.retry();
                retries += 1;
                if let Some(endpoint) = attempt.endpoint {
                    tried.push(endpoint);
                }
                if let Some(backoff) = config.backoff {
                    let delay = backoff.delay(retries, &mut *lock(&this.rng));
                    tokio::time::sleep(delay).await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_fully_jittered_and_capped() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in 1..8u32 {
            let ceiling = (ENVOY_BACKOFF_BASE * ((1 << n) - 1)).min(ENVOY_BACKOFF_MAX);
            let mut max_seen = Duration::ZERO;
            for _ in 0..500 {
                let d = backoff_delay(n, ENVOY_BACKOFF_BASE, ENVOY_BACKOFF_MAX, &mut rng);
                assert!(d <= ceiling, "retry {n}: {d:?} > {ceiling:?}");
                max_seen = max_seen.max(d);
            }
            // Uniform over [0, ceiling]: 500 draws come close to the top.
            assert!(max_seen >= ceiling.mul_f64(0.95), "retry {n}: {max_seen:?}");
        }
    }

    #[test]
    fn linkerd_route_backoff_is_exponential_with_jitter_up_to_the_step() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let ms = Duration::from_millis;
        for n in 1..6u32 {
            let step = (ms(25) * (1 << (n - 1))).min(ms(250));
            for _ in 0..200 {
                let d = Backoff::LINKERD_ROUTE.delay(n, &mut rng);
                assert!(
                    d >= step && d <= (step * 2).min(ms(250)),
                    "retry {n}: {d:?}"
                );
            }
        }
    }
}
