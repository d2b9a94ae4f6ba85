//! Data-plane policies in isolation: mock endpoints, paused tokio time,
//! seeded RNGs. Each test states the property it checks.

use http::{Request, Response};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim::control::Endpoint;
use sim::proxy::SidecarConfig;
use sim::proxy::balance::{Attempt, Available, Balance, Candidate, p2c, send};
use sim::proxy::body::Buffered;
use sim::proxy::budget::BudgetConfig;
use sim::proxy::classify::Outcome;
use sim::proxy::metrics::ProxyMetrics;
use sim::proxy::outlier::OutlierConfig;
use sim::proxy::retry::{Backoff, Retry, RetryConfig};
use sim::proxy::stack::{Connection, EndpointStack, MakeConnection, balance_with, route_with};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::Service;

fn endpoints(n: usize) -> Vec<Endpoint> {
    (0..n)
        .map(|i| Endpoint {
            pod: format!("ep-{i}"),
            addr: SocketAddr::from(([10, 0, 0, 1], 1000 + i as u16)),
            ready: true,
        })
        .collect()
}

/// The sidecar's balancer and endpoint stack as `config` sets them up, over
/// the test's fake connections.
fn balancer<E>(
    config: &SidecarConfig,
    connect: MakeConnection<E>,
    endpoints: Vec<Endpoint>,
    metrics: Arc<Mutex<ProxyMetrics>>,
    rng: &mut ChaCha8Rng,
) -> (Balance<EndpointStack<E>>, watch::Sender<Arc<Vec<Endpoint>>>)
where
    E: Connection,
{
    let (tx, rx) = watch::channel(Arc::new(endpoints));
    (balance_with(config, connect, rx, metrics, rng), tx)
}

fn grpc_response(status: tonic::Code) -> Response<Buffered> {
    Response::builder()
        .header("grpc-status", (status as i32).to_string())
        .body(Buffered::empty())
        .expect("response")
}

fn request() -> Request<Buffered> {
    Request::builder()
        .uri("http://stockdata:50051/stockdata.v1.Stocks/Get")
        .body(Buffered::empty())
        .expect("request")
}

// === tower-test mocks ===

/// A tower-test mock endpoint.
struct MockEndpoint(tower_test::mock::Mock<Request<Buffered>, Response<Buffered>>);

impl Available for MockEndpoint {
    fn is_available(&self, _: Instant) -> bool {
        true
    }
}

impl Service<Request<Buffered>> for MockEndpoint {
    type Response = Response<Buffered>;
    type Error = Outcome;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Buffered>, Outcome>> + Send>>;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        self.0.poll_ready(cx).map_err(|_| Outcome::NotSent)
    }
    fn call(&mut self, r: Request<Buffered>) -> Self::Future {
        let f = self.0.call(r);
        Box::pin(async move { f.await.map_err(|_| Outcome::Reset) })
    }
}

#[tokio::test(start_paused = true)]
async fn round_robin_is_exact_over_tower_test_mocks() {
    let eps = endpoints(3);
    let mut handles = Vec::new();
    let mut mocks = BTreeMap::new();
    for e in &eps {
        let (mock, handle) = tower_test::mock::pair();
        mocks.insert(e.pod.clone(), mock);
        handles.push(handle);
    }
    let mocks = Mutex::new(mocks);
    let make: MakeConnection<MockEndpoint> = Box::new(move |e, _| {
        MockEndpoint(
            mocks
                .lock()
                .expect("lock")
                .remove(&e.pod)
                .expect("one mock per endpoint"),
        )
    });
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut balance, _tx) = balancer(
        &SidecarConfig::round_robin(),
        make,
        eps,
        Arc::default(),
        &mut rng,
    );
    for h in handles.iter_mut() {
        h.allow(100);
    }
    let mut order = Vec::new();
    for _ in 0..9 {
        let fut = balance.call(request());
        let served = tokio::spawn(fut);
        // Exactly one handle receives the request.
        let mut got = None;
        for (i, h) in handles.iter_mut().enumerate() {
            if let Poll::Ready(Some((_req, respond))) = futures::poll!(Box::pin(h.next_request())) {
                assert!(got.is_none(), "two endpoints got one request");
                got = Some(i);
                respond.send_response(grpc_response(tonic::Code::Ok));
            }
        }
        tokio::task::yield_now().await;
        let attempt = served.await.expect("task").expect("infallible");
        assert_eq!(attempt.outcome, Outcome::Grpc(tonic::Code::Ok));
        order.push(got.expect("some endpoint got it"));
    }
    assert_eq!(order, vec![0, 1, 2, 0, 1, 2, 0, 1, 2]);
}

// === P2C ===

#[test]
fn least_request_p2c_never_picks_the_busier_choice() {
    // With distinct loads, P2C can pick endpoint of rank r (0 = least
    // loaded) only when it is drawn together with a busier one:
    // P(r) = 2 (n − 1 − r) / (n (n − 1)). The busiest is never picked.
    let n = 10usize;
    let candidates: Vec<Candidate> = (0..n)
        .map(|i| Candidate {
            index: i,
            // Shuffled loads so position does not equal rank.
            load: ((i * 7) % n) as f64,
            weight: 1,
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let draws = 200_000;
    let mut by_rank = vec![0u64; n];
    for _ in 0..draws {
        let pos = p2c::pick(&candidates, 2, &mut rng);
        by_rank[candidates[pos].load as usize] += 1;
    }
    assert_eq!(by_rank[n - 1], 0, "the busiest endpoint was picked");
    for (r, &count) in by_rank.iter().enumerate() {
        let p = 2.0 * (n - 1 - r) as f64 / (n * (n - 1)) as f64;
        let expected = p * draws as f64;
        let sd = (draws as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (count as f64 - expected).abs() <= 5.0 * sd + 1.0,
            "rank {r}: {count} picks, expected {expected:.0} ± {sd:.0}"
        );
    }
}

#[test]
fn p2c_with_two_endpoints_always_takes_the_idler_and_is_seeded() {
    let c = |a: f64, b: f64| {
        vec![
            Candidate {
                index: 0,
                load: a,
                weight: 1,
            },
            Candidate {
                index: 1,
                load: b,
                weight: 1,
            },
        ]
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..100 {
        assert_eq!(p2c::pick(&c(5.0, 2.0), 2, &mut rng), 1);
        assert_eq!(p2c::pick(&c(1.0, 9.0), 2, &mut rng), 0);
    }
    let picks = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let cands: Vec<Candidate> = (0..50)
            .map(|i| Candidate {
                index: i,
                load: 0.0,
                weight: 1,
            })
            .collect();
        (0..100)
            .map(|_| p2c::pick(&cands, 2, &mut rng))
            .collect::<Vec<_>>()
    };
    assert_eq!(picks(9), picks(9), "same seed, same picks");
    assert_ne!(picks(9), picks(10));
}

// === peak-EWMA with latency-controlled mocks ===

/// An endpoint that answers OK after its current latency.
#[derive(Clone)]
struct Slow(Arc<Mutex<Duration>>);

impl Available for Slow {
    fn is_available(&self, _: Instant) -> bool {
        true
    }
}

impl Service<Request<Buffered>> for Slow {
    type Response = Response<Buffered>;
    type Error = Outcome;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Buffered>, Outcome>> + Send>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Buffered>) -> Self::Future {
        let latency = *self.0.lock().expect("lock");
        Box::pin(async move {
            tokio::time::sleep(latency).await;
            Ok(grpc_response(tonic::Code::Ok))
        })
    }
}

fn latency_balance(
    config: SidecarConfig,
    n: usize,
    seed: u64,
) -> (Balance<EndpointStack<Slow>>, Vec<Arc<Mutex<Duration>>>) {
    let knobs: Vec<_> = (0..n)
        .map(|_| Arc::new(Mutex::new(Duration::from_millis(10))))
        .collect();
    let by_pod: BTreeMap<String, Arc<Mutex<Duration>>> = (0..n)
        .map(|i| (format!("ep-{i}"), knobs[i].clone()))
        .collect();
    let make: MakeConnection<Slow> = Box::new(move |e, _| Slow(by_pod[&e.pod].clone()));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (balance, tx) = balancer(&config, make, endpoints(n), Arc::default(), &mut rng);
    std::mem::forget(tx);
    (balance, knobs)
}

/// Sends `count` requests one after another; returns how many went to
/// `ep-0`.
async fn sequential(balance: &mut Balance<EndpointStack<Slow>>, count: usize) -> usize {
    let mut to_zero = 0;
    for _ in 0..count {
        let attempt: Attempt = send(balance, request()).await;
        to_zero += usize::from(attempt.endpoint.as_deref() == Some("ep-0"));
    }
    to_zero
}

#[tokio::test(start_paused = true)]
async fn peak_ewma_moves_away_from_a_slow_endpoint_and_returns_after_recovery() {
    let (mut balance, knobs) = latency_balance(SidecarConfig::peak_ewma(), 3, 7);
    // Warm up: all at 10 ms, traffic spreads (ep-0 gets a fair share).
    let warm = sequential(&mut balance, 300).await;
    assert!((60..=140).contains(&warm), "warm share {warm}/300");
    // ep-0 turns 10× slower: within a few requests it stops being chosen.
    *knobs[0].lock().expect("lock") = Duration::from_millis(100);
    let mut first_slow = 0;
    for i in 0..30 {
        if sequential(&mut balance, 1).await == 1 {
            first_slow = i;
        }
    }
    assert!(
        first_slow < 10,
        "ep-0 still chosen at request {first_slow} after the slowdown"
    );
    let while_slow = sequential(&mut balance, 300).await;
    assert!(
        while_slow <= 6,
        "ep-0 got {while_slow}/300 while 10× slower"
    );
    // It recovers; its estimate decays while idle and traffic returns.
    *knobs[0].lock().expect("lock") = Duration::from_millis(10);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let after = sequential(&mut balance, 300).await;
    assert!(after >= 60, "ep-0 got only {after}/300 after recovering");
}

#[tokio::test(start_paused = true)]
async fn round_robin_keeps_sending_to_the_slow_endpoint() {
    // The contrast that motivates peak-EWMA.
    let (mut balance, knobs) = latency_balance(SidecarConfig::round_robin(), 3, 7);
    *knobs[0].lock().expect("lock") = Duration::from_millis(100);
    assert_eq!(sequential(&mut balance, 300).await, 100);
}

// === retry budget ===

/// A balancer stand-in whose every attempt fails with `UNAVAILABLE`.
#[derive(Clone)]
struct AlwaysUnavailable(Arc<Mutex<u64>>);

impl Service<Request<Buffered>> for AlwaysUnavailable {
    type Response = Attempt;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Attempt, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Buffered>) -> Self::Future {
        *self.0.lock().expect("lock") += 1;
        std::future::ready(Ok(Attempt {
            endpoint: Some("ep-0".into()),
            outcome: Outcome::Grpc(tonic::Code::Unavailable),
            response: Some(grpc_response(tonic::Code::Unavailable)),
        }))
    }
}

#[tokio::test(start_paused = true)]
async fn retry_budget_prevents_a_retry_storm() {
    // Bound implemented (see proxy::budget): within one TTL window,
    // attempts ≤ requests × (1 + ratio) + min_per_second × ttl.
    let budget = BudgetConfig::default(); // 0.2, 10/s, 10 s
    let attempts = Arc::new(Mutex::new(0u64));
    let metrics: Arc<Mutex<ProxyMetrics>> = Arc::default();
    let mut retry = Retry::new(
        AlwaysUnavailable(attempts.clone()),
        RetryConfig {
            max_retries: 10,
            budget: Some(budget),
            ..RetryConfig::OFF
        },
        1,
        metrics.clone(),
    );
    let requests = 2000u64;
    for _ in 0..requests {
        let attempt = send(&mut retry, request()).await;
        assert_eq!(attempt.outcome, Outcome::Grpc(tonic::Code::Unavailable));
        tokio::time::sleep(Duration::from_millis(4)).await; // 8 s in all, < TTL
    }
    let attempts = *attempts.lock().expect("lock");
    let bound = requests as f64 * (1.0 + budget.retry_ratio)
        + f64::from(budget.min_retries_per_second) * budget.ttl.as_secs_f64();
    assert!(
        attempts as f64 <= bound,
        "{attempts} attempts > bound {bound}"
    );
    // And the budget is used, not just respected: exactly the bound.
    assert_eq!(attempts, bound as u64);
    assert!(metrics.lock().expect("lock").retries_refused > 0);
}

/// Regression: the concurrent-retry counter was raised before the backoff
/// and lowered only after the retry's attempt, so a request dropped while
/// backing off (a request timeout, a client reset) kept its slot forever;
/// with Envoy's default of 3, three such drops disabled retries for the
/// rest of the run. Here the cap is 1: no drop may cost a later retry.
#[tokio::test(start_paused = true)]
async fn a_request_dropped_during_backoff_gives_its_retry_slot_back() {
    let attempts = Arc::new(Mutex::new(0u64));
    let mut retry = Retry::new(
        AlwaysUnavailable(attempts.clone()),
        RetryConfig {
            max_retries: 1,
            max_concurrent_retries: Some(1),
            backoff: Some(Backoff::FullJitter {
                base: Duration::from_secs(1),
                max: Duration::from_secs(1),
            }),
            ..RetryConfig::OFF
        },
        1,
        Arc::default(),
    );
    for dropped in 1..=3u64 {
        // The first try fails, a retry is granted, and the caller gives up
        // during its backoff (jittered in 0..=1 s; 1 µs is inside it).
        let gave_up = tokio::time::timeout(Duration::from_micros(1), send(&mut retry, request()));
        assert!(gave_up.await.is_err(), "dropped during the backoff");
        assert_eq!(*attempts.lock().expect("lock"), dropped * 3 - 2);
        // The next request still gets its retry.
        send(&mut retry, request()).await;
        assert_eq!(
            *attempts.lock().expect("lock"),
            dropped * 3,
            "after {dropped} dropped request(s) the retry was refused"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn without_a_budget_retries_multiply_the_load() {
    let attempts = Arc::new(Mutex::new(0u64));
    let mut retry = Retry::new(
        AlwaysUnavailable(attempts.clone()),
        RetryConfig {
            max_retries: 3,
            ..RetryConfig::OFF
        },
        1,
        Arc::default(),
    );
    for _ in 0..100 {
        send(&mut retry, request()).await;
    }
    assert_eq!(*attempts.lock().expect("lock"), 400);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_outcomes_are_not_retried() {
    #[derive(Clone)]
    struct NotFound(Arc<Mutex<u64>>);
    impl Service<Request<Buffered>> for NotFound {
        type Response = Attempt;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Attempt, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<Buffered>) -> Self::Future {
            *self.0.lock().expect("lock") += 1;
            std::future::ready(Ok(Attempt {
                endpoint: Some("ep-0".into()),
                outcome: Outcome::Reset,
                response: None,
            }))
        }
    }
    let calls = Arc::new(Mutex::new(0u64));
    let mut retry = Retry::new(
        NotFound(calls.clone()),
        RetryConfig {
            max_retries: 3,
            ..RetryConfig::OFF
        },
        1,
        Arc::default(),
    );
    send(&mut retry, request()).await;
    assert_eq!(
        *calls.lock().expect("lock"),
        1,
        "a reset after sending may have done work"
    );
}

// === outlier detection through the balancer ===

/// An endpoint with a fixed availability that answers every request the
/// same way: `INTERNAL` when `fails`, `OK` otherwise.
#[derive(Clone)]
struct Fixed {
    available: bool,
    fails: bool,
}

impl Fixed {
    /// Always available; fails every request if `fails`.
    fn failing(fails: bool) -> Self {
        Self {
            available: true,
            fails,
        }
    }

    /// Answers `OK`; available only if `available`.
    fn gated(available: bool) -> Self {
        Self {
            available,
            fails: false,
        }
    }
}

impl Available for Fixed {
    fn is_available(&self, _: Instant) -> bool {
        self.available
    }
}

impl Service<Request<Buffered>> for Fixed {
    type Response = Response<Buffered>;
    type Error = Outcome;
    type Future = std::future::Ready<Result<Response<Buffered>, Outcome>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Buffered>) -> Self::Future {
        std::future::ready(Ok(grpc_response(if self.fails {
            tonic::Code::Internal
        } else {
            tonic::Code::Ok
        })))
    }
}

#[tokio::test(start_paused = true)]
async fn outlier_detection_ejects_a_failing_endpoint_then_returns_it() {
    let make: MakeConnection<Fixed> = Box::new(|e, _| Fixed::failing(e.pod == "ep-0"));
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut cfg = SidecarConfig::round_robin();
    cfg.outlier = Some(OutlierConfig {
        max_ejection_percent: 50,
        ..OutlierConfig::default()
    });
    let metrics: Arc<Mutex<ProxyMetrics>> = Arc::default();
    let (mut balance, tx) = balancer(&cfg, make, endpoints(4), metrics.clone(), &mut rng);
    let start = Instant::now();
    let mut timeline = Vec::new();
    // One request every 100 ms for 60 s.
    for step in 0..600u64 {
        let attempt = send(&mut balance, request()).await;
        if attempt.endpoint.as_deref() == Some("ep-0") {
            timeline.push(step);
        }
        tokio::time::sleep_until(start + Duration::from_millis(100 * (step + 1))).await;
    }
    // Round robin sends ep-0 every 4th request until its 5th consecutive
    // failure (request 16), then nothing until the first 10 s sweep after
    // 30 s of ejection (t = 40 s, request 400), then it fails 5 more times
    // and is ejected for 60 s (past the end).
    let before: Vec<u64> = timeline.iter().copied().filter(|&s| s < 100).collect();
    assert_eq!(before, vec![0, 4, 8, 12, 16]);
    let during: Vec<u64> = timeline
        .iter()
        .copied()
        .filter(|&s| (17..400).contains(&s))
        .collect();
    assert!(
        during.is_empty(),
        "ejected endpoint got requests at {during:?}"
    );
    let after: Vec<u64> = timeline.iter().copied().filter(|&s| s >= 400).collect();
    assert_eq!(after.len(), 5, "{after:?}");
    assert!(after[0] < 404, "returned at {}", after[0]);
    assert_eq!(metrics.lock().expect("lock").endpoints["ep-0"].ejections, 2);
    drop(tx);
}

#[tokio::test(start_paused = true)]
async fn discovery_changes_the_endpoint_set() {
    let make: MakeConnection<Fixed> = Box::new(|_, _| Fixed::failing(false));
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut balance, tx) = balancer(
        &SidecarConfig::round_robin(),
        make,
        endpoints(2),
        Arc::default(),
        &mut rng,
    );
    assert_eq!(balance.endpoint_names(), ["ep-0", "ep-1"]);
    let mut three = endpoints(3);
    three[0].ready = false;
    tx.send_replace(Arc::new(three));
    let served: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(
                send(&mut balance, request())
                    .await
                    .endpoint
                    .expect("picked")
                    .to_string(),
            );
        }
        v
    };
    assert_eq!(balance.endpoint_names(), ["ep-1", "ep-2"]);
    assert_eq!(served, ["ep-1", "ep-2", "ep-1", "ep-2"]);
}

#[tokio::test(start_paused = true)]
async fn weighted_split_follows_the_weights() {
    let make: MakeConnection<Fixed> = Box::new(|_, _| Fixed::failing(false));
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut cfg = SidecarConfig::weighted();
    cfg.balance.weights = BTreeMap::from([("ep-0".to_string(), 1), ("ep-1".to_string(), 3)]);
    let (mut balance, _tx) = balancer(&cfg, make, endpoints(2), Arc::default(), &mut rng);
    let mut to_one = 0u32;
    for _ in 0..4000 {
        to_one +=
            u32::from(send(&mut balance, request()).await.endpoint.as_deref() == Some("ep-1"));
    }
    // Binomial(4000, 0.75): sd ≈ 27; allow 4 sd.
    assert!(
        (to_one as i64 - 3000).abs() < 110,
        "{to_one}/4000 to weight 3"
    );
}

#[tokio::test(start_paused = true)]
async fn panic_threshold_spreads_over_unhealthy_hosts_and_fail_fast_refuses() {
    // Every endpoint fails, so outlier detection wants them all out; it may
    // eject only 10 % (at least one). With panic mode, traffic still goes
    // everywhere; without it, when nothing is healthy, requests fail fast.
    let make = || -> MakeConnection<Fixed> { Box::new(|_, _| Fixed::failing(true)) };
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut cfg = SidecarConfig::round_robin();
    cfg.outlier = Some(OutlierConfig {
        max_ejection_percent: 100,
        ..OutlierConfig::default()
    });
    cfg.balance.panic_threshold = Some(50.0);
    let (mut panicky, _tx) = balancer(&cfg, make(), endpoints(2), Arc::default(), &mut rng);
    for _ in 0..20 {
        send(&mut panicky, request()).await;
    }
    // Both ejected (100 % allowed), yet in panic mode both still serve.
    let served: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(
                send(&mut panicky, request())
                    .await
                    .endpoint
                    .expect("panic mode picks")
                    .to_string(),
            );
        }
        v
    };
    assert_eq!(served, ["ep-0", "ep-1", "ep-0", "ep-1"]);
    cfg.balance.panic_threshold = None;
    let (_tx2, rx2) = watch::channel(Arc::new(endpoints(2)));
    let metrics: Arc<Mutex<ProxyMetrics>> = Arc::default();
    // The whole route, whose retry layer counts requests that found no
    // endpoint.
    let mut strict = route_with(&cfg, make(), rx2, metrics.clone(), &mut rng);
    for _ in 0..20 {
        send(&mut strict, request()).await;
    }
    let attempt = send(&mut strict, request()).await;
    assert_eq!(attempt.endpoint, None);
    assert_eq!(attempt.outcome, Outcome::NotSent);
    assert!(metrics.lock().expect("lock").no_endpoints >= 1);
}

// === O(1) pick fast paths ===

/// `n` endpoints; those with `down(i)` unavailable.
fn gated(
    config: SidecarConfig,
    n: usize,
    down: fn(usize) -> bool,
) -> Balance<EndpointStack<Fixed>> {
    let make: MakeConnection<Fixed> = Box::new(move |e, _| {
        let i: usize = e.pod.trim_start_matches("ep-").parse().expect("index");
        Fixed::gated(!down(i))
    });
    let (balance, tx) = balancer(
        &config,
        make,
        endpoints(n),
        Arc::default(),
        &mut ChaCha8Rng::seed_from_u64(3),
    );
    std::mem::forget(tx);
    balance
}

#[tokio::test(start_paused = true)]
async fn p2c_fast_path_picks_only_available_endpoints_uniformly() {
    for (policy, config) in [
        ("least-request", SidecarConfig::least_request()),
        ("peak-ewma", SidecarConfig::peak_ewma()),
    ] {
        // 1,000 endpoints, every third one down (rejections take the
        // full path), all idle: picks spread evenly over the 667 up.
        let mut balance = gated(config, 1000, |i| i % 3 == 0);
        let mut counts = vec![0u32; 1000];
        let picks = 66_700;
        for _ in 0..picks {
            let i = balance.pick(&[]).expect("an endpoint");
            counts[i] += 1;
        }
        assert!(
            counts.iter().step_by(3).all(|&c| c == 0),
            "{policy}: picked an unavailable endpoint"
        );
        let up: Vec<u32> = (0..1000)
            .filter(|i| i % 3 != 0)
            .map(|i| counts[i])
            .collect();
        // Expected 100 each; with equal loads ties go to the first draw, so
        // each up endpoint is a uniform draw: binomial(66 700, 1/667), sd ≈ 10.
        let (min, max) = (up.iter().min().copied(), up.iter().max().copied());
        assert!(
            min >= Some(55) && max <= Some(150),
            "{policy}: {min:?}..{max:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn round_robin_fast_path_cycles_and_skips_unavailable() {
    let mut all_up = gated(SidecarConfig::round_robin(), 5, |_| false);
    let seq: Vec<usize> = (0..12).map(|_| all_up.pick(&[]).expect("pick")).collect();
    assert_eq!(seq, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
    let mut some_down = gated(SidecarConfig::round_robin(), 5, |i| i == 1 || i == 3);
    let seq: Vec<usize> = (0..9).map(|_| some_down.pick(&[]).expect("pick")).collect();
    assert!(seq.iter().all(|i| [0, 2, 4].contains(i)), "{seq:?}");
    for i in [0, 2, 4] {
        assert_eq!(seq.iter().filter(|&&s| s == i).count(), 3, "{seq:?}");
    }
}
