//! The seam between services and the network.
//!
//! StockData, StockWeb and the meshsim sidecar never name a socket type. They
//! take a [`Listener`] to accept on, a [`Connect`] to dial out with and a
//! [`Resolve`] to look names up, so the very same code runs on real tokio
//! sockets (the impls in this module) and on turmoil's simulated network (the
//! impls in `sim::net`). There is no simulation-only path inside a service.
//!
//! [`serve_http2`] and [`serve_http1`] are the accept loops every server here
//! uses. They serve through hyper's connection builders directly so that two
//! things hold in simulation: timers come from tokio (virtual time under
//! turmoil) and no `Date` header is written (hyper derives it from the wall
//! clock, which would make bytes on the wire differ between runs).
//! [`serve_http2_graceful`] and [`serve_http1_graceful`] are the same loops
//! for the real programs, stopping on a signal and draining open
//! connections first. [`ConnectTimeout`] bounds a real connect.
//! [`AnyAuthority`] wraps an accepted HTTP/2 connection so that requests
//! whose `:authority` hyper would refuse are served (the real programs'
//! listeners use it).

use http::{Request, Response, Uri};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tower::Service;

pub mod any_authority;
mod graceful;
pub mod h2;
pub use any_authority::{AnyAuthority, AnyAuthorityListener};
pub use graceful::{Drained, ErrorHook, Graceful, serve_http1_graceful, serve_http2_graceful};
pub use h2::{ClientH2, ServerH2, StreamSlot, StreamSlots};

/// A boxed error, as tower and hyper pass them around.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Something that accepts byte-stream connections.
pub trait Listener: Send + 'static {
    /// The connection type.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Waits for the next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;
}

/// Something that opens byte-stream connections to an address.
pub trait Connect: Clone + Send + Sync + 'static {
    /// The connection type.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Opens a connection.
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send + 'static;
}

/// Something that turns a service name into addresses (DNS).
pub trait Resolve: Clone + Send + Sync + 'static {
    /// Resolves `host`, answering addresses with `port`, in the order the
    /// name server gave them.
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static;
}

// === impl tokio ===

/// Accepted connections get `TCP_NODELAY`, as gRPC servers and proxies
/// set it (Go's net package, which grpc-go and Envoy's peers use, does by
/// default; Envoy and linkerd2-proxy set it): with Nagle's algorithm on, a
/// small response waits for the ACK of the previous one, and the peer's
/// delayed ACK makes that up to 40 ms on Linux.
impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;
    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = tokio::net::TcpListener::accept(self).await?;
        stream.set_nodelay(true)?;
        Ok((stream, peer))
    }
}

/// Dials real TCP connections with tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioConnect;

impl Connect for TokioConnect {
    type Io = tokio::net::TcpStream;
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send + 'static {
        connect_tcp(addr)
    }
}

async fn connect_tcp(addr: SocketAddr) -> io::Result<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Resolves names with the operating system's resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioResolve;

impl Resolve for TokioResolve {
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static {
        let target = format!("{host}:{port}");
        async move { Ok(tokio::net::lookup_host(target).await?.collect()) }
    }
}

// === serving ===

/// Serves HTTP/2 (gRPC) connections from `listener` with `service` until
/// accepting fails, with hyper's default settings ([`ServerH2::HYPER`]).
/// Dropping the returned future drops every open connection (a pod that
/// dies takes its connections with it).
pub async fn serve_http2<L, S, B>(listener: L, service: S) -> io::Result<()>
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_http2_with(listener, service, ServerH2::HYPER).await
}

/// [`serve_http2`], advertising `settings`.
pub async fn serve_http2_with<L, S, B>(
    listener: L,
    service: S,
    settings: ServerH2,
) -> io::Result<()>
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_with(listener, move |io| {
        let service = TowerToHyperService::new(service.clone());
        Box::pin(async move {
            let builder = settings.builder();
            let _ = builder.serve_connection(TokioIo::new(io), service).await;
        })
    })
    .await
}

/// Serves HTTP/1.1 connections from `listener` with `service` (StockWeb's
/// web front end). Same lifetime rules as [`serve_http2`].
pub async fn serve_http1<L, S, B>(listener: L, service: S) -> io::Result<()>
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_with(listener, move |io| {
        let service = TowerToHyperService::new(service.clone());
        Box::pin(async move {
            let _ = http1_builder()
                .serve_connection(TokioIo::new(io), service)
                .await;
        })
    })
    .await
}

/// The HTTP/1 server builder every meshsim HTTP/1 server uses: tokio's
/// timer, no `date` header (stable bytes).
pub(crate) fn http1_builder() -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).auto_date_header(false);
    builder
}

type ConnFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

async fn serve_with<L: Listener>(
    mut listener: L,
    mut serve_connection: impl FnMut(L::Io) -> ConnFuture,
) -> io::Result<()> {
    // Connections live in a JoinSet owned by this future: dropping the serve
    // future aborts them all, as a process exit would.
    let mut connections = JoinSet::new();
    loop {
        let (io, _peer) = listener.accept().await?;
        connections.spawn(serve_connection(io));
        while connections.try_join_next().is_some() {}
    }
}

/// The future of a connector made by [`connector_to`].
pub type ConnectFuture<Io> = Pin<Box<dyn Future<Output = io::Result<TokioIo<Io>>> + Send>>;

/// Adapts a [`Connect`] into the `Service<Uri>` connector tonic and
/// hyper-util expect, always dialing `addr` whatever the URI says (the URI
/// still supplies the `:authority` of each request).
pub fn connector_to<C: Connect>(
    connect: C,
    addr: SocketAddr,
) -> impl Service<Uri, Response = TokioIo<C::Io>, Error = io::Error, Future = ConnectFuture<C::Io>>
+ Clone
+ Send
+ 'static {
    tower::service_fn(move |_uri: Uri| {
        let fut = connect.connect(addr);
        Box::pin(async move { fut.await.map(TokioIo::new) }) as ConnectFuture<C::Io>
    })
}

/// A [`Connect`] that gives up after `timeout` (`TimedOut`), so a caller of
/// an unreachable (blackholed) address fails instead of hanging.
#[derive(Debug, Clone, Copy)]
pub struct ConnectTimeout<C> {
    inner: C,
    timeout: std::time::Duration,
}

impl<C> ConnectTimeout<C> {
    /// `inner`, bounded by `timeout`.
    pub fn new(inner: C, timeout: std::time::Duration) -> Self {
        Self { inner, timeout }
    }
}

impl<C: Connect> Connect for ConnectTimeout<C> {
    type Io = C::Io;
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send + 'static {
        let (connecting, limit) = (self.inner.connect(addr), self.timeout);
        async move {
            tokio::time::timeout(limit, connecting)
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("connecting to {addr}: no answer within {limit:?}"),
                    ))
                })
        }
    }
}
