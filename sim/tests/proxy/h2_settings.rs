//! What each HTTP/2 server in meshsim advertises, read off the wire by an
//! independent client (the `h2` crate's own), on real sockets: the sidecar's
//! listener per mesh profile and StockData's server per scenario setting.
//! Before these were settings every server advertised hyper's 200.

use crate::proxy_tokio::sidecar_with;
use sim::control::ControlPlane;
use std::time::Duration;
use stockdata::transport::ServerH2;
use stockdata::{ReplicaConfig, StockDataService};

#[path = "../support/h2_peer.rs"]
mod h2_peer;
use h2_peer::advertised;

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
        let got = advertised(sidecar_with(&ControlPlane::new(), strategy, |_| {}).await).await;
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
