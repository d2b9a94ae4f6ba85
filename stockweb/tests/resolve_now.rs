//! Client-side round robin re-resolves as grpc-go's DNS resolver does: never
//! on a timer, only after a call failed on its connection (`ResolveNow`), and
//! never twice within the minimum gap (real tokio sockets, real time).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stockdata::transport::{Resolve, TokioConnect};
use stockdata::{ReplicaConfig, ServiceTime, StockDataService};
use stockweb::{ClientConfig, Page, StockClient, StockWeb, Upstream};

/// A resolver whose answer the test changes, counting its queries.
#[derive(Clone, Default)]
struct Dns {
    answer: Arc<Mutex<Vec<SocketAddr>>>,
    queries: Arc<AtomicUsize>,
}

impl Dns {
    fn set(&self, answer: Vec<SocketAddr>) {
        *self.answer.lock().expect("answer") = answer;
    }

    fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Resolve for Dns {
    fn resolve(
        &self,
        _host: &str,
        _port: u16,
    ) -> impl std::future::Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'static {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let answer = self.answer.lock().expect("answer").clone();
        async move { Ok(answer) }
    }
}

const GAP: Duration = Duration::from_millis(300);

async fn start_replica(pod: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let replica = StockDataService::new(ReplicaConfig {
        pod: pod.into(),
        service_time: ServiceTime::Constant(Duration::ZERO),
        concurrency: 16,
        seed: 3,
        demand_seed: 0,
        honor_cancellation: true,
        queue_bound: None,
        slowdown: 1.0,
        load_reports: false,
    })
    .expect("replica");
    tokio::spawn(stockdata::serve(listener, replica));
    addr
}

async fn dead_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    l.local_addr().expect("addr")
}

fn app(dns: &Dns) -> StockWeb<TokioConnect, Dns> {
    let client = StockClient::new(
        ClientConfig {
            upstream: Upstream::ClientRoundRobin {
                service: "stockdata".into(),
                port: 50051,
                min_interval: GAP,
            },
            handler_lifetime: None,
            http2: Default::default(),
        },
        TokioConnect,
        dns.clone(),
    );
    StockWeb::new("stockweb-0", client)
}

fn servers(page: &Page) -> Vec<String> {
    let mut s: Vec<_> = page.rows.iter().map(|r| r.server.clone()).collect();
    s.sort();
    s.dedup();
    s
}

#[tokio::test]
async fn without_a_failure_a_scale_out_is_not_picked_up() {
    let a = start_replica("stockdata-0").await;
    let b = start_replica("stockdata-1").await;
    let dns = Dns::default();
    dns.set(vec![a]);
    let app = app(&dns);
    assert_eq!(servers(&app.load_page(None).await), ["stockdata-0"]);
    dns.set(vec![a, b]);
    tokio::time::sleep(GAP * 2).await;
    // A periodic re-resolution would have found b by now; grpc-go does not poll.
    let page = app.load_page(None).await;
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert_eq!(servers(&page), ["stockdata-0"]);
    assert_eq!(dns.queries(), 1);
}

#[tokio::test]
async fn a_connection_failure_re_resolves_but_not_twice_within_the_gap() {
    let a = start_replica("stockdata-0").await;
    let b = start_replica("stockdata-1").await;
    let dead = dead_port().await;
    let dns = Dns::default();
    dns.set(vec![a, dead]);
    let app = app(&dns);

    let page = app.load_page(None).await;
    assert_eq!(page.errors.get("UNAVAILABLE"), Some(&50));
    assert_eq!(dns.queries(), 1);

    // The failure asked for re-resolution; it happens once the gap is over.
    tokio::time::sleep(GAP * 2).await;
    let page = app.load_page(None).await;
    assert_eq!(dns.queries(), 2);
    assert_eq!(page.errors.get("UNAVAILABLE"), Some(&50), "same answer");

    // Failing again at once: no second resolution within the gap, even
    // though DNS now has the new pod.
    dns.set(vec![a, b]);
    let page = app.load_page(None).await;
    assert_eq!(dns.queries(), 2);
    assert_eq!(page.errors.get("UNAVAILABLE"), Some(&50));

    // The request is kept: the first call after the gap re-resolves.
    tokio::time::sleep(GAP * 2).await;
    let page = app.load_page(None).await;
    assert_eq!(dns.queries(), 3);
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert_eq!(servers(&page), ["stockdata-0", "stockdata-1"]);
}

#[test]
fn only_a_transport_unavailable_is_a_connection_failure() {
    let sent = tonic::Status::unavailable("sent by the server");
    assert!(!stockweb::is_connection_failure(&sent));
    let mut broken = tonic::Status::unavailable("connection refused");
    broken.set_source(Arc::new(std::io::Error::from(
        std::io::ErrorKind::ConnectionRefused,
    )));
    assert!(stockweb::is_connection_failure(&broken));
    let mut other = tonic::Status::unknown("reset");
    other.set_source(Arc::new(std::io::Error::other("reset")));
    assert!(!stockweb::is_connection_failure(&other));
}
