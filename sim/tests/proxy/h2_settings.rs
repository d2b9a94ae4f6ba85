//! What each HTTP/2 server in meshsim advertises, read off the wire by an
//! independent client (the `h2` crate's own), on real sockets: the sidecar's
//! listener per mesh profile and StockData's server per scenario setting.
//! Before these were settings every server advertised hyper's 200.

use sim::cluster::Cluster;
use sim::proxy::{Outbound, serve_outbound};
use sim::strategy::Strategy;
use std::net::SocketAddr;
use std::time::Duration;
use stockdata::transport::{ServerH2, TokioConnect};
use stockdata::{ReplicaConfig, StockDataService};

/// The stream limit and initial stream window the server at `addr`
/// advertises (`usize::MAX` streams: it advertised none).
async fn advertised(addr: SocketAddr) -> (usize, u32) {
    let io = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut client, mut connection) = h2::client::Builder::new()
        // So that "no limit advertised" reads as no limit.
        .initial_max_send_streams(usize::MAX)
        // So that a stream's capacity is the peer's window, not our buffer.
        .max_send_buffer_size(1 << 30)
        .handshake::<_, bytes::Bytes>(io)
        .await
        .expect("handshake");
    // Drive the connection until the server's SETTINGS have been applied:
    // a PING round trip comes after them on the wire.
    let mut ping = connection.ping_pong().expect("ping_pong");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    tokio::time::timeout(Duration::from_secs(5), ping.ping(h2::Ping::opaque()))
        .await
        .expect("pong in time")
        .expect("pong");
    let streams = client.current_max_send_streams();
    // The window a new stream may send into is the peer's initial window.
    let window = {
        let request = http::Request::post(format!("http://{addr}/x"))
            .body(())
            .expect("request");
        let (_response, mut stream) = client.send_request(request, false).expect("send");
        stream.reserve_capacity(u32::MAX as usize >> 1);
        let capacity = std::future::poll_fn(|cx| stream.poll_capacity(cx))
            .await
            .expect("capacity")
            .expect("capacity");
        capacity as u32
    };
    let _ = client.ready().await;
    driver.abort();
    (streams, window)
}

async fn sidecar(strategy: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let Ok(Strategy::Sidecar(spec)) = strategy.parse() else {
        panic!("a sidecar strategy")
    };
    let outbound = Outbound::new(
        Cluster::new(),
        TokioConnect,
        spec.config(Default::default()),
        7,
        Default::default(),
    );
    tokio::spawn(serve_outbound(listener, outbound));
    addr
}

#[tokio::test]
async fn each_profiles_listener_advertises_its_meshs_stream_limit_and_window() {
    // (strategy, streams, initial stream window); connection windows are
    // not visible to the peer until it has sent data.
    let cases = [
        ("linkerd", usize::MAX, 65_535),
        ("istio", 1024, 16 * 1024 * 1024),
        ("consul", (1 << 31) - 1, 256 * 1024 * 1024),
        ("sidecar:round-robin", 200, 1024 * 1024),
    ];
    for (strategy, streams, window) in cases {
        let got = advertised(sidecar(strategy).await).await;
        // A new stream may send min(stream window, connection window);
        // every profile's connection window is at least its stream window.
        assert_eq!(got, (streams, window), "{strategy}: (streams, window)");
    }
}

#[tokio::test]
async fn stockdata_advertises_the_scenarios_stream_limit() {
    for limit in [Some(3), Some(200), None] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let replica = StockDataService::new(ReplicaConfig::constant(
            "stockdata-0",
            Duration::from_millis(1),
            1,
        ))
        .expect("replica");
        let h2 = ServerH2 {
            max_concurrent_streams: limit,
            ..ServerH2::HYPER
        };
        tokio::spawn(stockdata::serve_with(listener, replica, h2));
        let (streams, _) = advertised(addr).await;
        assert_eq!(streams, limit.map_or(usize::MAX, |n| n as usize));
    }
}
