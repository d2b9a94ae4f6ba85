//! Accept loops that stop gracefully, for the real programs.
//!
//! [`serve_http2_graceful`] and [`serve_http1_graceful`] serve like
//! [`serve_http2`](super::serve_http2) and [`serve_http1`](super::serve_http1)
//! until `shutdown` completes; then they stop accepting (the listener is
//! dropped, so new connections are refused), ask every open connection to
//! finish with hyper's `graceful_shutdown()` (HTTP/2: GOAWAY, then in-flight
//! streams run to completion; HTTP/1.1: the request in progress is answered,
//! an idle keep-alive connection is closed), and wait for them, at most
//! [`Graceful::drain_timeout`]. Connections still open then are dropped.
//!
//! The simulator never uses these: it keeps the original loops, whose
//! behaviour (and therefore every report's bytes) they leave unchanged.

use super::{BoxError, Listener};
use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulConnection;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::Service;

/// Called with each accept error (peer `None`) and each connection that
/// ended in an error (its peer).
pub type ErrorHook = Arc<dyn Fn(Option<SocketAddr>, &dyn std::error::Error) + Send + Sync>;

/// How a graceful server drains.
#[derive(Clone)]
pub struct Graceful {
    /// Longest wait for open connections once shutdown began.
    pub drain_timeout: Duration,
    /// Where connection errors are reported (a log line, say).
    pub on_error: Option<ErrorHook>,
    /// What an HTTP/2 server advertises (unused for HTTP/1.1).
    pub h2: super::ServerH2,
}

impl Default for Graceful {
    /// A 30 s drain (Kubernetes' default termination grace period), no hook.
    fn default() -> Self {
        Self {
            drain_timeout: Duration::from_secs(30),
            on_error: None,
            h2: super::ServerH2::HYPER,
        }
    }
}

/// How a drain went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Connections open when shutdown began.
    pub open: usize,
    /// Of those, connections dropped at the drain timeout.
    pub aborted: usize,
}

/// Waits until `stop` says so (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Serves one connection until it ends, or until `stop`: then it stops
/// taking new requests and lets those in flight finish (HTTP/2 GOAWAY,
/// HTTP/1.1 close after the current response).
async fn drain_on_stop<C>(
    conn: C,
    stop: watch::Receiver<bool>,
    hook: &Option<ErrorHook>,
    peer: SocketAddr,
) where
    C: GracefulConnection,
    C::Error: std::error::Error,
{
    let mut conn = pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopped(stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        report(hook, Some(peer), &e);
    }
}

fn report(hook: &Option<ErrorHook>, peer: Option<SocketAddr>, error: &dyn std::error::Error) {
    if let Some(hook) = hook {
        hook(peer, error);
    }
}

/// Serves HTTP/2 (gRPC) until `shutdown` completes, then drains.
pub async fn serve_http2_graceful<L, S, B>(
    listener: L,
    service: S,
    shutdown: impl Future<Output = ()>,
    options: Graceful,
) -> Drained
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (hook, settings) = (options.on_error.clone(), options.h2);
    serve_graceful(listener, shutdown, options, move |io, peer, stop| {
        let service = TowerToHyperService::new(service.clone());
        let hook = hook.clone();
        Box::pin(async move {
            let builder = settings.builder();
            let conn = builder.serve_connection(TokioIo::new(io), service);
            drain_on_stop(conn, stop, &hook, peer).await;
        })
    })
    .await
}

/// Serves HTTP/1.1 until `shutdown` completes, then drains.
pub async fn serve_http1_graceful<L, S, B>(
    listener: L,
    service: S,
    shutdown: impl Future<Output = ()>,
    options: Graceful,
) -> Drained
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let hook = options.on_error.clone();
    serve_graceful(listener, shutdown, options, move |io, peer, stop| {
        let service = TowerToHyperService::new(service.clone());
        let hook = hook.clone();
        Box::pin(async move {
            let builder = super::http1_builder();
            let conn = builder.serve_connection(TokioIo::new(io), service);
            drain_on_stop(conn, stop, &hook, peer).await;
        })
    })
    .await
}

type ConnFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Pause after a failed accept (out of file descriptors, say), so a
/// persistent error does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

async fn serve_graceful<L: Listener>(
    mut listener: L,
    shutdown: impl Future<Output = ()>,
    options: Graceful,
    mut serve_connection: impl FnMut(L::Io, SocketAddr, watch::Receiver<bool>) -> ConnFuture,
) -> Drained {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((io, peer)) => {
                    connections.spawn(serve_connection(io, peer, stop_rx.clone()));
                }
                Err(e) => {
                    report(&options.on_error, None, &e);
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
        }
        while connections.try_join_next().is_some() {}
    }
    // Stop accepting first: a client connecting now is refused, not queued.
    drop(listener);
    while connections.try_join_next().is_some() {}
    let open = connections.len();
    stop_tx.send_replace(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    let aborted = match tokio::time::timeout(options.drain_timeout, drain).await {
        Ok(()) => 0,
        Err(_) => {
            let left = connections.len();
            connections.shutdown().await;
            left
        }
    };
    Drained { open, aborted }
}
