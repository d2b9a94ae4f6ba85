//! Mesh-profile defaults that differ from what meshsim modelled before
//! (issue #13). Each test fails on the old value.

use http::{Request, Response};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim::control::Endpoint;
use sim::proxy::SidecarConfig;
use sim::proxy::balance::{Available, send};
use sim::proxy::body::Buffered;
use sim::proxy::classify::Outcome;
use sim::proxy::metrics::ProxyMetrics;
use sim::proxy::outlier::OutlierConfig;
use sim::proxy::stack::{MakeConnection, balance_with};
use sim::strategy::Strategy;
use std::collections::BTreeMap;
use std::net::SocketAddr;
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
            addr: SocketAddr::from(([10, 0, 0, 2], 2000 + i as u16)),
            ready: true,
        })
        .collect()
}

fn request() -> Request<Buffered> {
    Request::builder()
        .uri("http://stockdata:50051/stockdata.v1.Stocks/Get")
        .body(Buffered::empty())
        .expect("request")
}

/// An endpoint answering `INTERNAL` when `fails`, `OK` otherwise; available
/// while `up`.
#[derive(Clone)]
pub struct Answer {
    pub fails: bool,
    pub up: Arc<std::sync::atomic::AtomicBool>,
}

impl Available for Answer {
    fn is_available(&self, _: Instant) -> bool {
        self.up.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Service<Request<Buffered>> for Answer {
    type Response = Response<Buffered>;
    type Error = Outcome;
    type Future = std::future::Ready<Result<Response<Buffered>, Outcome>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Buffered>) -> Self::Future {
        let code = if self.fails {
            tonic::Code::Internal
        } else {
            tonic::Code::Ok
        };
        std::future::ready(Ok(Response::builder()
            .header("grpc-status", (code as i32).to_string())
            .body(Buffered::empty())
            .expect("response")))
    }
}

fn config(name: &str) -> SidecarConfig {
    match name.parse::<Strategy>() {
        Ok(Strategy::Sidecar(spec)) => spec.config(BTreeMap::new()),
        other => panic!("{name}: {other:?}"),
    }
}

/// Ejections after 100 requests from `config` over three replicas, `ep-0`
/// failing every request.
async fn ejections_with_one_bad_of_three(config: &SidecarConfig) -> u64 {
    let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let make: MakeConnection<Answer> = Box::new(move |e, _| Answer {
        fails: e.pod == "ep-0",
        up: up.clone(),
    });
    let metrics: Arc<Mutex<ProxyMetrics>> = Arc::default();
    let (_tx, rx) = watch::channel(Arc::new(endpoints(3)));
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut balance = balance_with(config, make, rx, metrics.clone(), &mut rng);
    for _ in 0..100 {
        send(&mut balance, request()).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let m = metrics.lock().expect("lock");
    m.endpoints.values().map(|e| e.ejections).sum()
}

#[tokio::test(start_paused = true)]
async fn consul_does_not_eject_one_of_three_hosts_under_envoys_current_rule() {
    // (0 + 1) / 3 = 33 % > 10 %: a current Envoy ejects nothing. The old
    // rule ("one host may always be ejected") ejected ep-0.
    assert_eq!(ejections_with_one_bad_of_three(&config("consul")).await, 0);
    let mut eject_one = config("consul");
    if let Some(o) = eject_one.outlier.as_mut() {
        o.always_eject_one_host = true;
    }
    assert!(ejections_with_one_bad_of_three(&eject_one).await >= 1);
    // The same for `+outlier` on a policy sidecar.
    assert_eq!(
        ejections_with_one_bad_of_three(&config("sidecar:round-robin+outlier")).await,
        0
    );
}

#[test]
fn panic_thresholds_follow_each_mesh() {
    // Consul disables the panic threshold on every upstream cluster (was 50).
    assert_eq!(config("consul").balance.panic_threshold, Some(0.0));
    assert_eq!(config("consul+outlier").balance.panic_threshold, Some(0.0));
    // Istio without a DestinationRule: Envoy's 50 %; with one
    // (`+outlier`), minHealthPercent's default 0 (was 50).
    assert_eq!(config("istio").balance.panic_threshold, Some(50.0));
    let dr = config("istio+outlier");
    assert_eq!(dr.balance.panic_threshold, Some(0.0));
    // Istio turns success-rate ejection off; Envoy and Consul keep it on.
    assert_eq!(dr.outlier.map(|o| o.success_rate), Some(None));
    assert!(
        config("consul")
            .outlier
            .is_some_and(|o| o.success_rate.is_some())
    );
    assert!(!OutlierConfig::default().always_eject_one_host);
}

#[test]
fn consul_coalesces_endpoint_changes_for_200_ms() {
    // proxycfg's coalesceTimeout (was 0).
    assert_eq!(config("consul").discovery_delay, Duration::from_millis(200));
}

#[test]
fn linkerd_2_19_connect_backoff_tops_out_at_60_s() {
    // linkerd/linkerd2-proxy#3992 (500 ms up to 2.18).
    let c = config("linkerd");
    assert_eq!(c.connect.backoff_min, Duration::from_millis(100));
    assert_eq!(c.connect.backoff_max, Duration::from_secs(60));
    assert_eq!(c.release, "Linkerd stable 2.19 (linkerd2-proxy)");
}

#[tokio::test(start_paused = true)]
async fn linkerd_waits_out_the_fail_fast_timeout_for_an_endpoint() {
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = up.clone();
    let make: MakeConnection<Answer> = Box::new(move |_, _| Answer {
        fails: false,
        up: flag.clone(),
    });
    let (_tx, rx) = watch::channel(Arc::new(endpoints(2)));
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cfg = config("linkerd");
    let mut route = sim::proxy::stack::route_with(&cfg, make, rx, Arc::default(), &mut rng);
    // An endpoint becomes available after 1 s: the request waits for it
    // (the old model failed it at once).
    let t0 = Instant::now();
    let setter = up.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        setter.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let attempt = send(&mut route, request()).await;
    assert_eq!(
        attempt.outcome,
        Outcome::Grpc(tonic::Code::Ok),
        "{attempt:?}"
    );
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_millis(1010),
        "{waited:?}"
    );
    // Nothing available: fail after the 3 s timeout, then fail fast.
    up.store(false, std::sync::atomic::Ordering::Relaxed);
    let t1 = Instant::now();
    let attempt = send(&mut route, request()).await;
    assert_eq!(attempt.endpoint, None);
    assert_eq!(t1.elapsed(), Duration::from_secs(3));
    let t2 = Instant::now();
    send(&mut route, request()).await;
    assert_eq!(t2.elapsed(), Duration::ZERO, "in fail-fast, fails at once");
    // meshsim's own sidecars queue the same way (3 s) ...
    let plain = |strategy: &str, n: usize, rng: &mut ChaCha8Rng| {
        let (tx, rx) = watch::channel(Arc::new(endpoints(n)));
        let flag = up.clone();
        let make: MakeConnection<Answer> = Box::new(move |_, _| Answer {
            fails: false,
            up: flag.clone(),
        });
        let route = sim::proxy::stack::route_with(&config(strategy), make, rx, Arc::default(), rng);
        (tx, route)
    };
    let (_tx2, mut sidecar) = plain("sidecar:round-robin", 2, &mut rng);
    let t3 = Instant::now();
    assert_eq!(send(&mut sidecar, request()).await.endpoint, None);
    assert_eq!(t3.elapsed(), Duration::from_secs(3));
    // ... while Envoy answers "no healthy upstream" at once (Istio, with
    // no endpoint at all; with some, its panic threshold routes to them).
    let (_tx3, mut istio) = plain("istio", 0, &mut rng);
    let t4 = Instant::now();
    assert_eq!(send(&mut istio, request()).await.endpoint, None);
    assert_eq!(t4.elapsed(), Duration::ZERO);
    let (_tx4, mut consul) = plain("consul", 2, &mut rng);
    let t5 = Instant::now();
    assert_eq!(send(&mut consul, request()).await.endpoint, None);
    assert_eq!(t5.elapsed(), Duration::ZERO);
}

/// An endpoint that refuses every request before sending it (`NotSent`)
/// when `refuses`, and answers `OK` otherwise; counts what it was sent.
#[derive(Clone)]
pub struct Refusing {
    pub refuses: bool,
    pub calls: Arc<std::sync::atomic::AtomicU64>,
}

impl Available for Refusing {
    fn is_available(&self, _: Instant) -> bool {
        true
    }
}

impl Service<Request<Buffered>> for Refusing {
    type Response = Response<Buffered>;
    type Error = Outcome;
    type Future = std::future::Ready<Result<Response<Buffered>, Outcome>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Buffered>) -> Self::Future {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.refuses {
            return std::future::ready(Err(Outcome::NotSent));
        }
        std::future::ready(Ok(Response::builder()
            .header("grpc-status", "0")
            .body(Buffered::empty())
            .expect("response")))
    }
}

/// 100 requests through `strategy`'s route over two endpoints, `ep-0`
/// refusing every request unsent: (OK answers, metrics).
async fn through_a_refusing_endpoint(strategy: &str) -> (usize, ProxyMetrics) {
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let make: MakeConnection<Refusing> = Box::new(move |e, _| Refusing {
        refuses: e.pod == "ep-0",
        calls: calls.clone(),
    });
    let metrics: Arc<Mutex<ProxyMetrics>> = Arc::default();
    let (_tx, rx) = watch::channel(Arc::new(endpoints(2)));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut route =
        sim::proxy::stack::route_with(&config(strategy), make, rx, metrics.clone(), &mut rng);
    let mut ok = 0;
    for _ in 0..100 {
        if send(&mut route, request()).await.outcome == Outcome::Grpc(tonic::Code::Ok) {
            ok += 1;
        }
    }
    let m = metrics.lock().expect("lock").clone();
    (ok, m)
}

#[tokio::test(start_paused = true)]
async fn a_never_sent_call_is_redispatched_without_counting_as_a_retry() {
    // meshsim's own sidecar: every call refused unsent by ep-0 goes to
    // ep-1, and none of them is a retry.
    let (ok, m) = through_a_refusing_endpoint("sidecar:round-robin").await;
    assert_eq!(ok, 100);
    assert!(m.redispatched >= 1, "{m:?}");
    assert_eq!(m.endpoints["ep-0"].failures["NOT_SENT"], m.redispatched);
    assert_eq!((m.requests, m.attempts), (100, 100));
    assert_eq!(m.endpoints["ep-0"].retries + m.endpoints["ep-1"].retries, 0);
    // Linkerd does not re-dispatch (outside its opt-in retries): ep-0's
    // share fails.
    let (ok, m) = through_a_refusing_endpoint("linkerd").await;
    assert!(ok < 100, "{ok}");
    assert_eq!(m.redispatched, 0);
    // Istio's default retry policy retries a refused stream, as a retry.
    let (ok, m) = through_a_refusing_endpoint("istio").await;
    assert_eq!(ok, 100);
    assert_eq!(m.redispatched, 0);
    assert!(m.attempts > m.requests, "{m:?}");
}

#[test]
fn each_mesh_s_inbound_sidecar_is_its_own_inbound_stack() {
    use sim::proxy::balance::NoEndpoint;
    use sim::proxy::endpoint::ConnectMode;
    // Linkerd's inbound: 1 s fail-fast (outbound 3 s), the chart's 100 ms
    // connect timeout (outbound 1 s), connect backoff up to 10 s.
    let linkerd = config("linkerd+route-retry+accrual").inbound();
    assert_eq!(
        linkerd.balance.no_endpoint,
        NoEndpoint::FailFast(Duration::from_secs(1))
    );
    assert_eq!(linkerd.connect.timeout, Duration::from_millis(100));
    assert_eq!(linkerd.connect.backoff_max, Duration::from_secs(10));
    assert_eq!(linkerd.connect.mode, ConnectMode::Eager);
    // Envoy's inbound cluster: on demand, no queue, the mesh's connect
    // timeout and HTTP/2 settings.
    let istio = config("istio+outlier");
    let inbound = istio.inbound();
    assert_eq!(inbound.balance.no_endpoint, NoEndpoint::Fail);
    assert_eq!(inbound.connect.mode, ConnectMode::OnDemand);
    assert_eq!(inbound.connect.timeout, istio.connect.timeout);
    assert_eq!(inbound.h2, istio.h2);
    assert_eq!(inbound.release, istio.release);
    // No mesh retries, times out, ejects or accrues failures inbound, and
    // nothing is discovered late: the app is in the pod.
    for c in [linkerd, inbound, config("consul+retry").inbound()] {
        assert_eq!(c.retry.max_retries, 0);
        assert_eq!(c.redispatch_unsent, 0);
        assert!(c.request_timeout.is_none() && c.per_try_timeout.is_none());
        assert!(c.outlier.is_none() && c.accrual.is_none());
        assert_eq!(c.discovery_delay, Duration::ZERO);
    }
}
