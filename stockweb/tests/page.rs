//! StockWeb over real tokio sockets: a page load pins to one replica when the
//! client resolves once, and the HTTP routes serve HTML and JSON.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stockdata::transport::{Resolve, TokioConnect};
use stockdata::{ReplicaConfig, ServiceTime, StockDataService};
use stockweb::{ClientConfig, Page, StockClient, StockWeb, Upstream};

/// A resolver with a fixed answer, for the test only.
#[derive(Clone)]
struct Fixed(Vec<SocketAddr>);

impl Resolve for Fixed {
    fn resolve(
        &self,
        _host: &str,
        _port: u16,
    ) -> impl std::future::Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'static {
        let answer = self.0.clone();
        async move { Ok(answer) }
    }
}

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

fn app(replicas: Vec<SocketAddr>) -> Arc<StockWeb<TokioConnect, Fixed>> {
    let client = StockClient::new(
        ClientConfig {
            upstream: Upstream::Direct {
                service: "stockdata".into(),
                port: 50051,
            },
            handler_lifetime: None,
            http2: Default::default(),
        },
        TokioConnect,
        Fixed(replicas),
    );
    Arc::new(StockWeb::new("stockweb-0", client))
}

#[tokio::test]
async fn one_client_sends_all_calls_to_the_first_answer() {
    let a = start_replica("stockdata-0").await;
    let b = start_replica("stockdata-1").await;
    let app = app(vec![b, a]);
    for _ in 0..2 {
        let page = app.load_page(None).await;
        assert_eq!(page.rows.len(), 100);
        assert!(page.errors.is_empty(), "{:?}", page.errors);
        assert!(page.rows.iter().all(|r| r.server == "stockdata-1"));
        let symbols: Vec<_> = page.rows.iter().map(|r| r.symbol.clone()).collect();
        let mut sorted = symbols.clone();
        sorted.sort();
        assert_eq!(symbols, sorted);
        assert!(
            !symbols.contains(&"AAPL".to_string()),
            "id 1 is not on the page"
        );
    }
}

#[tokio::test]
async fn unreachable_replica_is_counted_not_fatal() {
    // Bind and drop to get a port nobody listens on.
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr")
    };
    let page = app(vec![dead]).load_page(None).await;
    assert!(page.rows.is_empty());
    assert_eq!(page.errors.get("UNAVAILABLE"), Some(&100));
    assert_eq!(page.calls.len(), 100);
}

#[tokio::test]
async fn http_routes_serve_html_and_json() {
    let replica = start_replica("stockdata-0").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let web = listener.local_addr().expect("addr");
    tokio::spawn(stockweb::serve(listener, app(vec![replica])));

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let get = |path: &str| {
        let uri: http::Uri = format!("http://{web}{path}").parse().expect("uri");
        let fut = client.get(uri);
        async move {
            let resp = fut.await.expect("response");
            assert_eq!(resp.status(), 200);
            use http_body_util::BodyExt;
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            String::from_utf8(body.to_vec()).expect("utf-8")
        }
    };
    let html = get("/").await;
    assert!(html.contains("<h1>NASDAQ 100</h1>"));
    assert!(html.contains("<td>ZS</td><td>Zscaler Inc.</td><td>stockdata-0</td>"));
    assert_eq!(html.matches("<tr><td>").count(), 100);

    let page: Page = serde_json::from_str(&get("/api/stocks").await).expect("json");
    assert_eq!(page.rows.len(), 100);
    assert_eq!(page.calls.len(), 100);
    assert!(page.calls.iter().all(|c| c.code == "OK"));
}
