//! End to end over loopback TCP: a raw h2 client whose requests carry the
//! `:authority` grpcio sends for `ipv4:127.0.0.1:5001,127.0.0.1:5002`, and a
//! real StockData server.
//!
//! h2's client cannot send such an authority (its `Uri` refuses it), so the
//! client sends a valid one of the same length ([`FIXED`]) through a
//! connection that rewrites it to [`BAD`] on the way out, with the shim's
//! own machinery run the other way round. The control test shows the bytes
//! that arrive are the ones hyper refuses.

use super::super::{AnyAuthorityListener, Shim};
use super::{BAD, FIXED};
use crate::transport::serve_http2;
use crate::{ReplicaConfig, StockDataService};
use bytes::{Buf, Bytes};
use futures::StreamExt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

fn corrupt(value: &[u8]) -> Option<Vec<u8>> {
    (value == FIXED.as_bytes()).then(|| BAD.as_bytes().to_vec())
}

/// A client connection that sends [`BAD`] wherever h2 encoded [`FIXED`].
struct Corrupt {
    io: TcpStream,
    shim: Shim,
}

impl Corrupt {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.shim.ready.is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.shim.ready))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.shim.ready.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Corrupt {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        this.shim.held.extend_from_slice(buf);
        this.shim.decide_held();
        // Accepted: what does not go now goes on the next write or flush.
        if let Poll::Ready(Err(e)) = this.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

impl AsyncRead for Corrupt {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

/// A StockData replica on loopback, its connections wrapped or not.
async fn server(any_authority: bool) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let replica = StockDataService::new(ReplicaConfig::constant("stockdata-0", Duration::ZERO, 64))
        .expect("replica");
    let routes = crate::routes(replica).await;
    tokio::spawn(async move {
        if any_authority {
            serve_http2(AnyAuthorityListener::new(listener), routes).await
        } else {
            serve_http2(listener, routes).await
        }
    });
    addr
}

type Client = h2::client::SendRequest<Bytes>;
type Connection = tokio::task::JoinHandle<Result<(), h2::Error>>;

async fn connect(addr: SocketAddr) -> (Client, Connection, h2::PingPong) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let io = Corrupt {
        io: tcp,
        shim: Shim::new(corrupt),
    };
    let (client, mut connection) = h2::client::handshake(io).await.expect("handshake");
    let ping = connection.ping_pong().expect("ping handle");
    (client, tokio::spawn(connection), ping)
}

/// One `Stocks/Get`: the answer's `server-id`, `grpc-status` and body size.
async fn get(client: Client, id: u8) -> Result<(String, String, usize), h2::Error> {
    let request = http::Request::post(format!("http://{FIXED}/stockdata.v1.Stocks/Get"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    let mut client = client.ready().await?;
    let (response, mut send) = client.send_request(request, false)?;
    // The server may reset the stream before the body goes: its reason,
    // in the response, is the error that counts.
    let sent = send.send_data(Bytes::from(vec![0, 0, 0, 0, 2, 0x08, id]), true);
    let response = response.await?;
    sent?;
    let text = |v: Option<&http::HeaderValue>| {
        v.and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let server = text(response.headers().get("server-id"));
    let mut body = response.into_body();
    let mut size = 0;
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        size += chunk.len();
        body.flow_control().release_capacity(chunk.len())?;
    }
    let trailers = body.trailers().await?.unwrap_or_default();
    Ok((server, text(trailers.get("grpc-status")), size))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_address_authority_gets_2000_answers_on_one_connection() {
    let (client, connection, mut ping) = connect(server(true).await).await;
    let answers: Vec<_> = futures::stream::iter(0..2000)
        .map(|i| get(client.clone(), 2 + (i % 100) as u8))
        .buffer_unordered(50)
        .collect()
        .await;
    for answer in &answers {
        let (server, status, size) = answer.as_ref().expect("answered");
        assert_eq!((server.as_str(), status.as_str()), ("stockdata-0", "0"));
        assert!(*size > 5, "a message");
    }
    assert_eq!(answers.len(), 2000);
    // No GOAWAY: the connection is open and answers a ping.
    ping.ping(h2::Ping::opaque()).await.expect("pong");
    assert!(!connection.is_finished());
    get(client, 2).await.expect("one more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_shim_hyper_resets_every_such_call() {
    let (client, _connection, _ping) = connect(server(false).await).await;
    for id in 2..12 {
        let error = get(client.clone(), id).await.expect_err("refused");
        assert_eq!(error.reason(), Some(h2::Reason::PROTOCOL_ERROR), "{error}");
    }
}
