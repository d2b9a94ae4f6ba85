//! One code path: the sidecar, StockData and StockWeb that run in the
//! simulator also run on real tokio sockets, unchanged.

use sim::cluster::Cluster;
use sim::proxy::SidecarConfig;
use sim::proxy::{Outbound, serve_outbound};
use sim::strategy::Strategy;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stockdata::transport::TokioConnect;
use stockdata::{ReplicaConfig, ServiceTime, StockDataService};
use stockweb::{ClientConfig, Outbound as AppOutbound, StockClient, StockWeb};

async fn replica(cluster: &Cluster, pod: &str) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    cluster.add_endpoint("stockdata", pod, addr);
    cluster.set_ready(pod, true);
    let service = StockDataService::new(ReplicaConfig {
        pod: pod.into(),
        service_time: ServiceTime::Constant(Duration::from_millis(1)),
        concurrency: 4,
        seed: 1,
        slowdown: 1.0,
    })
    .expect("replica");
    tokio::spawn(stockdata::serve(listener, service));
}

async fn sidecar(cluster: &Cluster) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let Ok(Strategy::Sidecar(spec)) = "sidecar:round-robin".parse() else {
        panic!("a sidecar strategy")
    };
    let config = SidecarConfig::resolve(spec, Default::default());
    let outbound = Outbound::new(cluster.clone(), TokioConnect, config, 7, Default::default());
    tokio::spawn(serve_outbound(listener, outbound));
    addr
}

fn app(cluster: &Cluster, proxy: SocketAddr) -> StockWeb<TokioConnect, sim::cluster::ClusterDns> {
    let config = ClientConfig {
        outbound: AppOutbound::Sidecar {
            service: "stockdata".into(),
            port: 50051,
            proxy,
        },
        handler_lifetime: None,
    };
    StockWeb::new(
        "stockweb-0",
        StockClient::new(config, TokioConnect, cluster.dns()),
    )
}

#[tokio::test]
async fn sidecar_balances_a_real_page_load_round_robin() {
    let cluster = Cluster::new();
    replica(&cluster, "stockdata-0").await;
    replica(&cluster, "stockdata-1").await;
    let proxy = sidecar(&cluster).await;
    let app = Arc::new(app(&cluster, proxy));
    for _ in 0..2 {
        let page = app.load_page().await;
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
    let cluster = Cluster::new();
    let proxy = sidecar(&cluster).await;
    let page = app(&cluster, proxy).load_page().await;
    assert_eq!(
        page.errors.get("UNAVAILABLE"),
        Some(&100),
        "{:?}",
        page.errors
    );
}

#[tokio::test]
async fn a_dead_endpoint_fails_its_share_as_unavailable() {
    // Round robin does not route around failures (later policies will):
    // the dead replica's half of the calls fail, the rest succeed.
    let cluster = Cluster::new();
    replica(&cluster, "stockdata-0").await;
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr")
    };
    cluster.add_endpoint("stockdata", "stockdata-1", dead);
    cluster.set_ready("stockdata-1", true);
    let proxy = sidecar(&cluster).await;
    let page = app(&cluster, proxy).load_page().await;
    assert_eq!(page.rows.len(), 50);
    assert_eq!(
        page.errors.get("UNAVAILABLE"),
        Some(&50),
        "{:?}",
        page.errors
    );
}
