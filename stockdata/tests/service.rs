//! StockData behaviour: status codes, the `server-id` header, FIFO queueing
//! behind the concurrency limit, and a real round trip over tokio sockets.

use std::time::Duration;
use stockdata::pb::GetRequest;
use stockdata::pb::stocks_client::StocksClient;
use stockdata::pb::stocks_server::Stocks;
use stockdata::{ReplicaConfig, SERVER_ID_HEADER, ServiceTime, StockDataService};
use tonic::{Code, Request};

fn replica(pod: &str, concurrency: usize, service_ms: u64) -> StockDataService {
    StockDataService::new(ReplicaConfig {
        pod: pod.into(),
        service_time: ServiceTime::Constant(Duration::from_millis(service_ms)),
        concurrency,
        seed: 1,
        demand_seed: 0,
        honor_cancellation: true,
        queue_bound: None,
        slowdown: 1.0,
        load_reports: false,
    })
    .expect("valid replica")
}

fn server_id(meta: &tonic::metadata::MetadataMap) -> Option<String> {
    meta.get(SERVER_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[tokio::test(start_paused = true)]
async fn known_id_returns_stock_with_server_id() {
    let svc = replica("stockdata-7", 4, 2);
    let resp = svc
        .get(Request::new(GetRequest { id: 2 }))
        .await
        .expect("id 2 exists");
    assert_eq!(server_id(resp.metadata()).as_deref(), Some("stockdata-7"));
    let stock = resp.into_inner().stock.expect("stock present");
    assert_eq!((stock.id, stock.symbol.as_str()), (2, "ABNB"));
}

#[tokio::test(start_paused = true)]
async fn unknown_id_is_not_found_and_tagged() {
    let svc = replica("stockdata-1", 4, 2);
    let status = svc
        .get(Request::new(GetRequest { id: 102 }))
        .await
        .expect_err("id 102 does not exist");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(server_id(status.metadata()).as_deref(), Some("stockdata-1"));
}

#[tokio::test(start_paused = true)]
async fn id_below_one_is_invalid_argument() {
    let svc = replica("stockdata-1", 4, 2);
    for id in [0, -1, i32::MIN] {
        let status = svc
            .get(Request::new(GetRequest { id }))
            .await
            .expect_err("invalid id");
        assert_eq!(status.code(), Code::InvalidArgument, "id {id}");
    }
}

#[tokio::test(start_paused = true)]
async fn concurrency_limit_queues_fifo() {
    // One worker, 10 ms per request: five requests issued in order must
    // finish in order at 10, 20, 30, 40, 50 ms.
    let svc = replica("stockdata-0", 1, 10);
    let start = tokio::time::Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for id in 2..=6 {
        let svc = svc.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let result = svc.get(Request::new(GetRequest { id })).await;
            let _ = tx.send((id, result.is_ok(), start.elapsed()));
        });
        // Let the spawned task reach the semaphore before the next one.
        tokio::task::yield_now().await;
    }
    drop(tx);
    let mut finished = Vec::new();
    while let Some(x) = rx.recv().await {
        finished.push(x);
    }
    let expected: Vec<_> = (2..=6)
        .map(|id| (id, true, Duration::from_millis(10 * (id as u64 - 1))))
        .collect();
    assert_eq!(finished, expected);
}

#[tokio::test(start_paused = true)]
async fn two_workers_serve_two_at_a_time() {
    let svc = replica("stockdata-0", 2, 10);
    let start = tokio::time::Instant::now();
    let calls = (2..=5).map(|id| {
        let svc = svc.clone();
        async move {
            svc.get(Request::new(GetRequest { id })).await.expect("ok");
            start.elapsed()
        }
    });
    let done = futures::future::join_all(calls).await;
    let ms: Vec<u128> = done.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, vec![10, 10, 20, 20]);
}

#[tokio::test]
async fn serves_grpc_and_health_over_real_sockets() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(stockdata::serve(listener, replica("stockdata-3", 4, 0)));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut client = StocksClient::new(channel.clone());
    let resp = client.get(GetRequest { id: 101 }).await.expect("ok");
    assert_eq!(server_id(resp.metadata()).as_deref(), Some("stockdata-3"));
    assert_eq!(resp.into_inner().stock.map(|s| s.symbol), Some("ZS".into()));

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "stockdata.v1.Stocks".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn queue_bound_sheds_load_with_unavailable() {
    let svc = StockDataService::new(ReplicaConfig {
        queue_bound: Some(2),
        ..ReplicaConfig::constant("stockdata-0", Duration::from_millis(10), 1)
    })
    .expect("replica");
    // One in service, two waiting, the rest refused at once.
    let calls = (2..=6).map(|id| {
        let svc = svc.clone();
        async move {
            svc.get(Request::new(GetRequest { id }))
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    });
    let results = futures::future::join_all(calls).await;
    assert_eq!(
        results,
        vec![
            Ok(()),
            Ok(()),
            Ok(()),
            Err(Code::Unavailable),
            Err(Code::Unavailable)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn slowdown_and_pause_controls() {
    let svc = replica("stockdata-0", 1, 10);
    svc.control().set_slowdown(3.0);
    let start = tokio::time::Instant::now();
    svc.get(Request::new(GetRequest { id: 2 }))
        .await
        .expect("ok");
    assert_eq!(start.elapsed(), Duration::from_millis(30));
    svc.control().set_slowdown(1.0);
    svc.control().set_paused(true);
    let control = svc.control().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        control.set_paused(false);
    });
    let start = tokio::time::Instant::now();
    svc.get(Request::new(GetRequest { id: 2 }))
        .await
        .expect("ok");
    assert_eq!(start.elapsed(), Duration::from_millis(510));
}

#[tokio::test(start_paused = true)]
async fn request_id_fixes_the_demand_on_every_replica() {
    let make = |pod: &str, seed| {
        StockDataService::new(ReplicaConfig {
            pod: pod.into(),
            service_time: ServiceTime::Exponential {
                mean: Duration::from_millis(20),
            },
            concurrency: 1,
            seed,
            demand_seed: 77,
            honor_cancellation: true,
            queue_bound: None,
            slowdown: 1.0,
            load_reports: false,
        })
        .expect("replica")
    };
    let timed = |svc: StockDataService, rid: &'static str| async move {
        let mut req = Request::new(GetRequest { id: 5 });
        req.metadata_mut()
            .insert(stockdata::REQUEST_ID_HEADER, rid.parse().expect("ascii"));
        let start = tokio::time::Instant::now();
        svc.get(req).await.expect("ok");
        start.elapsed()
    };
    let a = timed(make("stockdata-0", 1), "page-3/5").await;
    let b = timed(make("stockdata-1", 2), "page-3/5").await;
    let c = timed(make("stockdata-1", 2), "page-4/5").await;
    assert_eq!(a, b, "same request, same demand on another replica");
    assert_ne!(a, c, "another request, another demand");
}
