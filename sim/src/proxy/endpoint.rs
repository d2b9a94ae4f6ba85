//! One HTTP/2 connection to one endpoint.
//!
//! Proxies keep a small number of long-lived HTTP/2 connections per endpoint
//! and multiplex requests over them, so a request costs a stream, not a
//! handshake. This service opens its connection on first use and reopens it
//! when it has closed (peer gone, GOAWAY); concurrent callers during a
//! (re)connect wait in FIFO order for the one attempt in progress.

use super::ProxyError;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use stockdata::transport::Connect;
use tokio::sync::Mutex;
use tower::Service;

/// A tower service sending each request on the endpoint's HTTP/2 connection.
pub struct Http2Endpoint<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    addr: SocketAddr,
    connect: C,
    sender: Mutex<Option<SendRequest<Incoming>>>,
}

impl<C> Clone for Http2Endpoint<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

// === impl Http2Endpoint ===

impl<C: Connect> Http2Endpoint<C> {
    /// An endpoint at `addr`; nothing is dialed until the first request.
    pub fn new(addr: SocketAddr, connect: C) -> Self {
        Self {
            inner: Arc::new(Inner {
                addr,
                connect,
                sender: Mutex::new(None),
            }),
        }
    }

    /// The endpoint's address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }
}

impl<C: Connect> Inner<C> {
    /// The live connection's sender, connecting first if there is none.
    async fn sender(&self) -> Result<SendRequest<Incoming>, ProxyError> {
        let mut slot = self.sender.lock().await;
        if let Some(sender) = slot.as_ref()
            && !sender.is_closed()
        {
            return Ok(sender.clone());
        }
        *slot = None;
        let addr = self.addr;
        let io = self
            .connect
            .connect(addr)
            .await
            .map_err(|source| ProxyError::Connect { addr, source })?;
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(TokioIo::new(io))
            .await
            .map_err(|source| ProxyError::Http { addr, source })?;
        tokio::spawn(async move {
            // The connection ends when the peer goes away; the next request
            // sees `is_closed()` and reconnects.
            let _ = connection.await;
        });
        *slot = Some(sender.clone());
        Ok(sender)
    }
}

impl<C: Connect> Service<Request<Incoming>> for Http2Endpoint<C> {
    type Response = Response<Incoming>;
    type Error = ProxyError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Connecting happens per call; an HTTP/2 connection multiplexes.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let addr = inner.addr;
            let mut sender = inner.sender().await?;
            sender
                .ready()
                .await
                .map_err(|source| ProxyError::Http { addr, source })?;
            sender
                .send_request(request)
                .await
                .map_err(|source| ProxyError::Http { addr, source })
        })
    }
}
