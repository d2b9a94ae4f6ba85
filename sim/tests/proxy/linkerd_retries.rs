//! Linkerd's two retry systems as separate features (issue #13):
//! `+profile-retry` (ServiceProfile: budget only, no per-request limit, no
//! backoff) and `+route-retry` (2.16+ HTTPRoute: limit 1, backoff, no
//! budget). `linkerd+retry` mixed them (limit 1 and a budget); each test
//! fails on that mix.

use http::{Request, Response};
use sim::proxy::balance::{Attempt, send};
use sim::proxy::body::Buffered;
use sim::proxy::classify::Outcome;
use sim::proxy::retry::{Backoff, Retry, RetryConfig};
use sim::strategy::Strategy;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tower::Service;

fn request() -> Request<Buffered> {
    Request::builder()
        .uri("http://stockdata:50051/stockdata.v1.Stocks/Get")
        .body(Buffered::empty())
        .expect("request")
}

/// A balancer stand-in whose every attempt fails with `UNAVAILABLE`.
#[derive(Clone, Default)]
struct AlwaysUnavailable(Arc<Mutex<u64>>);

impl AlwaysUnavailable {
    fn attempts(&self) -> u64 {
        *self.0.lock().expect("lock")
    }
}

impl Service<Request<Buffered>> for AlwaysUnavailable {
    type Response = Attempt;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Attempt, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Buffered>) -> Self::Future {
        *self.0.lock().expect("lock") += 1;
        let response = Response::builder()
            .header("grpc-status", (tonic::Code::Unavailable as i32).to_string())
            .body(Buffered::empty())
            .expect("response");
        std::future::ready(Ok(Attempt {
            endpoint: Some("ep-0".into()),
            outcome: Outcome::Grpc(tonic::Code::Unavailable),
            response: Some(response),
        }))
    }
}

fn retry_config(strategy: &str) -> RetryConfig {
    match strategy.parse::<Strategy>() {
        Ok(Strategy::Sidecar(spec)) => spec.config(Default::default()).retry,
        other => panic!("{strategy}: {other:?}"),
    }
}

fn retrying(strategy: &str) -> (Retry<AlwaysUnavailable>, AlwaysUnavailable) {
    let upstream = AlwaysUnavailable::default();
    let retry = Retry::new(upstream.clone(), retry_config(strategy), 7, Arc::default());
    (retry, upstream)
}

#[tokio::test(start_paused = true)]
async fn profile_retries_have_no_per_request_limit_only_the_budget() {
    // One failing request: the budget's reserve (10/s × 10 s = 100
    // retries, plus 0.2 of one request) is all that stops it.
    let (mut retry, upstream) = retrying("linkerd+profile-retry");
    let start = Instant::now();
    send(&mut retry, request()).await;
    assert_eq!(upstream.attempts(), 1 + 100, "1 try and 100 retries");
    assert_eq!(start.elapsed(), Duration::ZERO, "no backoff");
    // The old `linkerd+retry` stopped at 1 retry per request.
    let (mut old, upstream) = retrying("linkerd+retry");
    send(&mut old, request()).await;
    assert_eq!(upstream.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn profile_retry_budget_bounds_attempts() {
    let (mut retry, upstream) = retrying("linkerd+profile-retry");
    let requests = 2000u64;
    for _ in 0..requests {
        send(&mut retry, request()).await;
        tokio::time::sleep(Duration::from_millis(4)).await; // 8 s < TTL
    }
    // attempts = requests × (1 + 0.2) + 10/s × 10 s, exactly.
    assert_eq!(upstream.attempts(), 2000 + 400 + 100);
}

#[tokio::test(start_paused = true)]
async fn route_retries_give_one_retry_per_request_and_no_budget() {
    let config = retry_config("linkerd+route-retry");
    assert_eq!(config.max_retries, 1);
    assert_eq!(config.budget, None);
    assert_eq!(config.backoff, Some(Backoff::LINKERD_ROUTE));
    let (mut retry, upstream) = retrying("linkerd+route-retry");
    let requests = 2000u64;
    for _ in 0..requests {
        let start = Instant::now();
        send(&mut retry, request()).await;
        // One retry after linkerd2-proxy's first backoff step: 25 ms plus up
        // to 25 ms of jitter.
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(25) && waited <= Duration::from_millis(50),
            "{waited:?}"
        );
    }
    // Every request retried once: no budget cut it to 2000 × 1.2 + 100.
    assert_eq!(upstream.attempts(), 2 * requests);
}

#[test]
fn profile_retries_win_over_route_retries_and_retry_keeps_its_mix() {
    assert_eq!(
        retry_config("linkerd+profile-retry+route-retry"),
        retry_config("linkerd+profile-retry")
    );
    // `+retry` on linkerd is unchanged: limit 1 with a budget, no backoff.
    let mix = retry_config("linkerd+retry");
    assert_eq!(mix.max_retries, 1);
    assert!(mix.budget.is_some());
    assert_eq!(mix.backoff, None);
}
