//! `grpc.health.v1.Health` as the gRPC health checking protocol has it,
//! over a real loopback connection.

use std::time::Duration;
use stockdata::health::HealthReporter;
use stockdata::{ReplicaConfig, StockDataService};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as Wire;
use tonic_health::pb::health_client::HealthClient;

const STOCKS: &str = "stockdata.v1.Stocks";

async fn start() -> (HealthClient<Channel>, HealthReporter) {
    let replica = StockDataService::new(ReplicaConfig::constant("stockdata-0", Duration::ZERO, 1))
        .expect("replica");
    let (routes, reporter) = stockdata::routes_with_health(replica).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(stockdata::transport::serve_http2(listener, routes));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    (HealthClient::new(channel), reporter)
}

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.into(),
    }
}

type Watch = tonic::Streaming<tonic_health::pb::HealthCheckResponse>;

async fn watch(client: &mut HealthClient<Channel>, service: &str) -> Watch {
    client
        .watch(request(service))
        .await
        .expect("watch accepted")
        .into_inner()
}

/// The next status on `stream`, `None` if it ended.
async fn next(stream: &mut Watch) -> Option<Wire> {
    let message = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("an answer within 5 s")
        .expect("no error");
    message.map(|m| Wire::try_from(m.status).expect("a known status"))
}

#[tokio::test]
async fn watch_on_an_unknown_service_says_service_unknown_and_stays_open() {
    let (mut client, reporter) = start().await;
    let mut stream = watch(&mut client, "nope").await;
    assert_eq!(next(&mut stream).await, Some(Wire::ServiceUnknown));
    let quiet = tokio::time::timeout(Duration::from_millis(200), stream.message()).await;
    assert!(quiet.is_err(), "still open, nothing new: {quiet:?}");
    // Check keeps the protocol's NOT_FOUND.
    let check = client.check(request("nope")).await.expect_err("unknown");
    assert_eq!(check.code(), Code::NotFound);
    // Once the service is known, the stream says so.
    reporter
        .set_service_status("nope", ServingStatus::Serving)
        .await;
    assert_eq!(next(&mut stream).await, Some(Wire::Serving));
    reporter
        .set_service_status("nope", ServingStatus::NotServing)
        .await;
    assert_eq!(next(&mut stream).await, Some(Wire::NotServing));
}

#[tokio::test]
async fn watch_on_the_stocks_service_follows_its_status_and_ends_on_drain() {
    let (mut client, reporter) = start().await;
    let check = client.check(request(STOCKS)).await.expect("known");
    assert_eq!(check.into_inner().status, Wire::Serving as i32);
    let mut stocks = watch(&mut client, STOCKS).await;
    let mut overall = watch(&mut client, "").await;
    let mut unknown = watch(&mut client, "nope").await;
    assert_eq!(next(&mut stocks).await, Some(Wire::Serving));
    assert_eq!(next(&mut overall).await, Some(Wire::Serving));
    assert_eq!(next(&mut unknown).await, Some(Wire::ServiceUnknown));
    reporter
        .set_service_status(STOCKS, ServingStatus::NotServing)
        .await;
    assert_eq!(next(&mut stocks).await, Some(Wire::NotServing));
    reporter
        .set_service_status(STOCKS, ServingStatus::Serving)
        .await;
    assert_eq!(next(&mut stocks).await, Some(Wire::Serving));

    reporter.drain();
    for stream in [&mut stocks, &mut overall, &mut unknown] {
        assert_eq!(next(stream).await, Some(Wire::NotServing));
        assert_eq!(next(stream).await, None, "ended");
    }
    let mut late = watch(&mut client, STOCKS).await;
    assert_eq!(next(&mut late).await, Some(Wire::NotServing));
    assert_eq!(next(&mut late).await, None);
}
