//! One code path: the sidecar, StockData and StockWeb that run in the
//! simulator also run on real tokio sockets, unchanged.

use sim::control::ControlPlane;
use sim::proxy::SidecarConfig;
use sim::proxy::{Outbound, serve_outbound};
use sim::strategy::Strategy;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stockdata::transport::TokioConnect;
use stockdata::{ReplicaConfig, ServiceTime, StockDataService};
use stockweb::{ClientConfig, StockClient, StockWeb, Upstream};

async fn replica(
    cluster: &ControlPlane,
    pod: &str,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    replica_with(cluster, pod, Duration::from_millis(1)).await
}

async fn replica_with(
    cluster: &ControlPlane,
    pod: &str,
    service_time: Duration,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    cluster.add_endpoint("stockdata", pod, addr);
    cluster.set_ready(pod, true);
    let service = StockDataService::new(ReplicaConfig {
        pod: pod.into(),
        service_time: ServiceTime::Constant(service_time),
        concurrency: 100,
        seed: 1,
        demand_seed: 0,
        honor_cancellation: true,
        queue_bound: None,
        slowdown: 1.0,
        load_reports: false,
    })
    .expect("replica");
    tokio::spawn(stockdata::serve(listener, service))
}

async fn sidecar(cluster: &ControlPlane) -> SocketAddr {
    sidecar_with(cluster, "sidecar:round-robin", |_| {}).await
}

/// A sidecar of `strategy` (its config adjusted by `tweak`) on a fresh
/// loopback port, balancing over `cluster`'s endpoints.
pub(crate) async fn sidecar_with(
    cluster: &ControlPlane,
    strategy: &str,
    tweak: impl FnOnce(&mut SidecarConfig),
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let Ok(Strategy::Sidecar(spec)) = strategy.parse() else {
        panic!("a sidecar strategy")
    };
    let mut config = spec.config(Default::default());
    tweak(&mut config);
    let outbound = Outbound::new(cluster.clone(), TokioConnect, config, 7, Default::default());
    tokio::spawn(serve_outbound(listener, outbound));
    addr
}

fn app(
    cluster: &ControlPlane,
    proxy: SocketAddr,
) -> StockWeb<TokioConnect, sim::control::ClusterDns> {
    let config = ClientConfig {
        upstream: Upstream::Sidecar {
            service: "stockdata".into(),
            port: 50051,
            proxy,
        },
        handler_lifetime: None,
        http2: Default::default(),
    };
    StockWeb::new(
        "stockweb-0",
        StockClient::new(config, TokioConnect, cluster.dns()),
    )
}

#[tokio::test]
async fn sidecar_balances_a_real_page_load_round_robin() {
    let cluster = ControlPlane::new();
    replica(&cluster, "stockdata-0").await;
    replica(&cluster, "stockdata-1").await;
    let proxy = sidecar(&cluster).await;
    let app = Arc::new(app(&cluster, proxy));
    for _ in 0..2 {
        let page = app.load_page(None).await;
        assert!(page.errors.is_empty(), "{:?}", page.errors);
        let on_0 = page
            .rows
            .iter()
            .filter(|r| r.server == "stockdata-0")
            .count();
        let on_1 = page
            .rows
            .iter()
            .filter(|r| r.server == "stockdata-1")
            .count();
        assert_eq!((on_0, on_1), (50, 50));
    }
}

#[tokio::test]
async fn sidecar_answers_unavailable_when_no_endpoint_is_ready() {
    let cluster = ControlPlane::new();
    let proxy = sidecar(&cluster).await;
    let page = app(&cluster, proxy).load_page(None).await;
    assert_eq!(
        page.errors.get("UNAVAILABLE"),
        Some(&100),
        "{:?}",
        page.errors
    );
}

#[tokio::test]
async fn a_dead_endpoint_gets_no_calls_from_an_eager_sidecar() {
    // Linkerd and meshsim's own sidecars connect to each endpoint on
    // discovery and pick only connected ones: the dead replica's connect
    // fails in the keeper, never in a call. (Before, round robin sent it
    // half the calls, which failed UNAVAILABLE.)
    for strategy in ["sidecar:round-robin", "linkerd"] {
        let cluster = ControlPlane::new();
        replica(&cluster, "stockdata-0").await;
        dead_endpoint(&cluster, "stockdata-1").await;
        let proxy = sidecar_with(&cluster, strategy, |_| {}).await;
        let app = app(&cluster, proxy);
        for _ in 0..3 {
            let page = app.load_page(None).await;
            assert!(page.errors.is_empty(), "{strategy}: {:?}", page.errors);
            assert_eq!(page.rows.len(), 100, "{strategy}");
            assert!(page.rows.iter().all(|r| r.server == "stockdata-0"));
        }
    }
}

#[tokio::test]
async fn a_dead_endpoint_fails_its_share_under_envoy_without_retries() {
    // Consul (Envoy, no default retries): the pool connects on demand, the
    // connect is refused, and every call waiting for it fails with it.
    let cluster = ControlPlane::new();
    replica(&cluster, "stockdata-0").await;
    dead_endpoint(&cluster, "stockdata-1").await;
    let proxy = sidecar_with(&cluster, "consul", |_| {}).await;
    let page = app(&cluster, proxy).load_page(None).await;
    assert_eq!(page.rows.len(), 50);
    assert_eq!(
        page.errors.get("UNAVAILABLE"),
        Some(&50),
        "{:?}",
        page.errors
    );
}

async fn dead_endpoint(cluster: &ControlPlane, pod: &str) {
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr")
    };
    cluster.add_endpoint("stockdata", pod, dead);
    cluster.set_ready(pod, true);
}

#[tokio::test]
async fn retries_move_connect_failures_to_a_live_endpoint() {
    let cluster = ControlPlane::new();
    replica(&cluster, "stockdata-0").await;
    dead_endpoint(&cluster, "stockdata-1").await;
    // Istio: retries on by default, and no concurrent-retry limit (Envoy's
    // own default of 3 would let only 3 of the 50 failures retry at once).
    let proxy = sidecar_with(&cluster, "istio", |_| {}).await;
    let page = app(&cluster, proxy).load_page(None).await;
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert!(page.rows.iter().all(|r| r.server == "stockdata-0"));
}

#[tokio::test]
async fn connect_failures_trip_failure_accrual() {
    let cluster = ControlPlane::new();
    replica(&cluster, "stockdata-0").await;
    dead_endpoint(&cluster, "stockdata-1").await;
    let metrics: Arc<std::sync::Mutex<sim::proxy::metrics::ProxyMetrics>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let proxy = listener.local_addr().expect("addr");
    let Ok(Strategy::Sidecar(spec)) = "linkerd+accrual".parse() else {
        panic!("a sidecar strategy")
    };
    let mut config = spec.config(Default::default());
    // Linkerd's own endpoints are never picked while their connect fails,
    // so connect failures never reach its breaker; with Envoy's on-demand
    // connections every call to the dead pod is one.
    config.connect.mode = sim::proxy::endpoint::ConnectMode::OnDemand;
    let outbound = Outbound::new(cluster.clone(), TokioConnect, config, 7, metrics.clone());
    tokio::spawn(serve_outbound(listener, outbound));
    let app = app(&cluster, proxy);
    let first = app.load_page(None).await;
    assert!(
        first.errors.get("UNAVAILABLE").is_some_and(|n| *n >= 7),
        "{:?}",
        first.errors
    );
    let m = metrics.lock().expect("lock").clone();
    assert!(
        m.endpoints["stockdata-1"].ejections >= 1,
        "{:?}",
        m.endpoints["stockdata-1"]
    );
    // The breaker is open for ≥ 1 s: the next page avoids the dead pod.
    let second = app.load_page(None).await;
    assert!(second.errors.is_empty(), "{:?}", second.errors);
}

#[tokio::test]
async fn in_flight_requests_on_a_dying_connection_fail_unavailable_or_are_retried_if_idempotent() {
    for idempotent in [false, true] {
        let cluster = ControlPlane::new();
        replica_with(&cluster, "stockdata-0", Duration::from_millis(300)).await;
        let doomed = replica_with(&cluster, "stockdata-1", Duration::from_millis(300)).await;
        let proxy = sidecar_with(&cluster, "istio", |c| {
            c.balance.policy = sim::proxy::balance::Policy::RoundRobin;
            c.retry.idempotent = idempotent;
        })
        .await;
        let app = Arc::new(app(&cluster, proxy));
        let page = tokio::spawn({
            let app = app.clone();
            async move { app.load_page(None).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The replica dies with 50 requests in flight on its connection.
        doomed.abort();
        let page = page.await.expect("page task");
        if idempotent {
            assert!(page.errors.is_empty(), "{:?}", page.errors);
            assert_eq!(page.rows.len(), 100);
        } else {
            // A reset after sending may have done work: not retried.
            assert_eq!(
                page.errors.get("UNAVAILABLE"),
                Some(&50),
                "{:?}",
                page.errors
            );
        }
    }
}
