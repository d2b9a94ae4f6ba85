use super::*;
use crate::proxy::balance::{Attempt, send};
use crate::proxy::metrics::ProxyMetrics;
use crate::proxy::retry::{Retry, RetryConfig};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A balancer stand-in whose every attempt fails with `UNAVAILABLE`.
#[derive(Clone, Default)]
struct Unavailable(Arc<AtomicU64>);

impl Service<Request<Buffered>> for Unavailable {
    type Response = Attempt;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Attempt, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Buffered>) -> Self::Future {
        self.0.fetch_add(1, Ordering::Relaxed);
        std::future::ready(Ok(Attempt {
            endpoint: Some("ep-0".into()),
            outcome: Outcome::Grpc(tonic::Code::Unavailable),
            response: None,
        }))
    }
}

/// Regression: the concurrent-retry counter was raised before the backoff
/// and lowered only after the retry's attempt, so a request dropped while
/// backing off (a request timeout, a client reset) kept its slot forever;
/// with Envoy's default of 3, three such drops disabled retries for the
/// rest of the run. Here the cap is 1: one drop must not cost a retry later.
#[tokio::test(start_paused = true)]
async fn a_request_dropped_during_backoff_gives_its_retry_slot_back() {
    let attempts = Unavailable::default();
    let mut retry = Retry::new(
        attempts.clone(),
        RetryConfig {
            max_retries: 1,
            max_concurrent_retries: Some(1),
            backoff: Some((Duration::from_secs(1), Duration::from_secs(1))),
            ..RetryConfig::OFF
        },
        1,
        Arc::new(Mutex::new(ProxyMetrics::default())),
    );
    for dropped in 1..=3u64 {
        // The first try fails, a retry is granted, and the caller gives up
        // during its backoff (jittered in 0..=1 s; 1 µs is inside it).
        let gave_up = tokio::time::timeout(Duration::from_micros(1), send(&mut retry, request()));
        assert!(gave_up.await.is_err(), "dropped during the backoff");
        assert_eq!(attempts.0.load(Ordering::Relaxed), dropped * 3 - 2);
        // The next request still gets its retry.
        let attempt = send(&mut retry, request()).await;
        assert_eq!(attempt.outcome, Outcome::Grpc(tonic::Code::Unavailable));
        assert_eq!(
            attempts.0.load(Ordering::Relaxed),
            dropped * 3,
            "after {dropped} dropped request(s) the retry was refused"
        );
    }
}
