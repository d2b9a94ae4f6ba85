//! Reads what an HTTP/2 server advertises with an independent client (the
//! `h2` crate's own), shared by the test binaries that check it.

use std::net::SocketAddr;
use std::time::Duration;

/// The stream limit and initial stream window the server at `addr`
/// advertises (`usize::MAX` streams: it advertised none).
pub async fn advertised(addr: SocketAddr) -> (usize, u32) {
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
