//! One HTTP/2 connection to one endpoint, kept the way the modelled mesh
//! keeps it.
//!
//! Proxies keep a long-lived HTTP/2 connection per endpoint and multiplex
//! requests over it, so a request costs a stream, not a handshake. What
//! differs between meshes is *when* the connection is made and what the
//! balancer knows about it ([`ConnectMode`]):
//!
//! - [`ConnectMode::Eager`] (linkerd2-proxy, and meshsim's own
//!   `sidecar:<policy>`): each endpoint is a `linkerd/reconnect` service
//!   under tower's balancer. It connects as soon as discovery names it and
//!   reconnects with the profile's backoff after a failed connect or a lost
//!   connection; it is *ready* only while it holds a live connection, and
//!   the balancer picks only among ready endpoints (tower
//!   `balance::p2c::Balance` over a `ReadyCache`). A live request therefore
//!   never probes a dead endpoint: the keeper task does ([`keeper`]).
//! - [`ConnectMode::OnDemand`] (Envoy: Istio, Consul): no per-host
//!   readiness gate. The cluster's connection pool connects when a request
//!   needs a connection and none is up; every request waiting for that
//!   connect shares its outcome (Envoy `source/common/conn_pool/conn_pool_base.cc`,
//!   `onConnectionEvent` → `purgePendingStreams`), and there is no connect
//!   backoff. A failed connect is a `connect-failure` the router's retry
//!   policy may retry on another host ([`pool`]).
//!
//! Either way, a request the endpoint provably never processed says so. If
//! the connection was gone before the request was written (hyper handed
//! the request back, or h2 had received a GOAWAY: `proto/streams/streams.rs`,
//! `recv_go_away` fails every newer stream with the remote GOAWAY error and
//! the server never sees them), the endpoint was not ready after all:
//! [`Outcome::Unready`], and the balancer picks again, as tower's does when
//! the endpoint it picked fails its readiness check (hyper's client stops
//! dispatching on a graceful GOAWAY only when it next polls, so the first
//! request after one always comes back this way). A stream the server
//! refused (`REFUSED_STREAM`) is [`Outcome::NotSent`], which only
//! `sidecar:<policy>` re-dispatches (see [`super::retry`]).
//!
//! Defaults (linkerd2-proxy as shipped in Linkerd stable 2.19,
//! `linkerd/app/src/env.rs`, `DEFAULT_OUTBOUND_CONNECT_BACKOFF` and
//! `DEFAULT_OUTBOUND_CONNECT_TIMEOUT`): backoff 100 ms doubling to 60 s with
//! 10 % jitter, the jitter capped so that no delay exceeds 60 s
//! (`linkerd/exp-backoff/src/lib.rs`, `jitter`: `.min(max - base)`);
//! connect timeout 1 s. The maximum was 500 ms up to 2.18;
//! linkerd/linkerd2-proxy#3992 (July 2025) raised it to 60 s outbound and
//! 10 s inbound.

pub mod keeper;
pub mod pool;

use super::available::Available;
use super::body::{Buffered, REPLAY_BUFFER_CAP};
use super::classify::Outcome;
use super::h2::SidecarH2;
use super::metrics::Recorder;
use http::{Request, Response};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use stockdata::transport::{ClientH2, Connect, StreamSlots};
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::Service;

/// linkerd2-proxy's minimum connect backoff.
pub const LINKERD_CONNECT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// linkerd2-proxy's maximum outbound connect backoff (Linkerd stable 2.19;
/// 500 ms up to 2.18, raised by linkerd/linkerd2-proxy#3992).
pub const LINKERD_CONNECT_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// linkerd2-proxy's maximum inbound connect backoff (Linkerd stable 2.19;
/// 500 ms up to 2.18).
pub const LINKERD_INBOUND_CONNECT_BACKOFF_MAX: Duration = Duration::from_secs(10);
/// linkerd2-proxy's outbound HTTP fail-fast timeout
/// (`DEFAULT_OUTBOUND_HTTP_FAILFAST_TIMEOUT`, 3 s, `linkerd/app/src/env.rs`).
pub const LINKERD_OUTBOUND_FAILFAST_TIMEOUT: Duration = Duration::from_secs(3);
/// linkerd2-proxy's inbound HTTP fail-fast timeout
/// (`DEFAULT_INBOUND_HTTP_FAILFAST_TIMEOUT`, 1 s, `linkerd/app/src/env.rs`).
pub const LINKERD_INBOUND_FAILFAST_TIMEOUT: Duration = Duration::from_secs(1);
/// linkerd2-proxy's connect-backoff jitter ratio.
pub const LINKERD_CONNECT_BACKOFF_JITTER: f64 = 0.1;
/// linkerd2-proxy's outbound connect timeout.
pub const LINKERD_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long h2 remembers a locally reset stream, in wall-clock time; far
/// longer than any simulation so that only its count limit applies.
pub const H2_RESET_STREAM_DURATION: Duration = Duration::from_secs(24 * 3600);

/// When an endpoint's connection is made, and what the balancer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectMode {
    /// Connect on discovery, reconnect with backoff, available only while
    /// connected (linkerd2-proxy; meshsim's `sidecar:<policy>`).
    Eager,
    /// Connect when a request needs a connection; waiters share the
    /// connect's outcome; no backoff; always available as far as the
    /// connection goes (Envoy's connection pool: Istio, Consul).
    OnDemand,
}

/// Connection settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectConfig {
    /// When connections are made.
    pub mode: ConnectMode,
    /// Give up a connect attempt after this long.
    pub timeout: Duration,
    /// First backoff after a failed connect or a lost connection (eager
    /// mode only).
    pub backoff_min: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    /// Extra random share of each backoff, 0..=jitter, capped at
    /// `backoff_max`.
    pub backoff_jitter: f64,
}

impl Default for ConnectConfig {
    /// linkerd2-proxy's defaults.
    fn default() -> Self {
        Self {
            mode: ConnectMode::Eager,
            timeout: LINKERD_CONNECT_TIMEOUT,
            backoff_min: LINKERD_CONNECT_BACKOFF_MIN,
            backoff_max: LINKERD_CONNECT_BACKOFF_MAX,
            backoff_jitter: LINKERD_CONNECT_BACKOFF_JITTER,
        }
    }
}

/// A tower service sending each request on the endpoint's HTTP/2
/// connection and buffering the response.
pub struct Http2Endpoint<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    conn: Conn<C>,
    /// Mirrors the endpoint's `SETTINGS_MAX_CONCURRENT_STREAMS`.
    slots: StreamSlots,
    /// Where the waits for the connection and for a stream are recorded.
    waits: Recorder,
}

enum Conn<C> {
    Eager(keeper::Keeper),
    OnDemand(pool::Pool<C>),
}

impl<C> Clone for Http2Endpoint<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// What opening one connection needs.
#[derive(Debug, Clone, Copy)]
pub struct Dial {
    /// The endpoint.
    pub addr: SocketAddr,
    /// Connect timeout.
    pub timeout: Duration,
    /// The connection's HTTP/2 settings.
    pub h2: ClientH2,
}

/// Opens and hand-shakes one HTTP/2 connection; the connection's driver
/// runs in a task of its own, whose handle ends when the connection does
/// (peer gone, GOAWAY: hyper's client task stops dispatching on a graceful
/// GOAWAY, `proto/h2/client.rs`, `Dispatched::Shutdown`). Streams in flight
/// continue on h2's own task.
pub async fn dial<C: Connect>(
    connect: &C,
    dial: Dial,
) -> Option<(SendRequest<Buffered>, tokio::task::JoinHandle<()>)> {
    let io = tokio::time::timeout(dial.timeout, connect.connect(dial.addr))
        .await
        .ok()?
        .ok()?;
    let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        // h2 forgets locally reset streams after `reset_stream_duration`
        // of *wall-clock* time (default 1 s, `std::time::Instant`). Under
        // cancellation (per-try timeouts) that made runs differ between
        // processes; a day is longer than any run, so only h2's
        // count-based limit applies, which is deterministic.
        .reset_stream_duration(H2_RESET_STREAM_DURATION);
    dial.h2.apply(&mut builder);
    let (sender, connection) = builder.handshake(TokioIo::new(io)).await.ok()?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Some((sender, driver))
}

// === impl Http2Endpoint ===

impl<C: Connect> Http2Endpoint<C> {
    /// An endpoint at `addr`. In eager mode its keeper starts connecting
    /// now (on the current runtime) and wakes `ready` each time it
    /// connects; on demand, nothing is dialed until the first request.
    /// `seed` drives the backoff jitter. Its connection uses the endpoint
    /// side of `h2`, and the time each request waits for the connection or
    /// a stream slot goes to `waits`.
    pub fn new(
        addr: SocketAddr,
        connect: C,
        (config, h2): (ConnectConfig, &SidecarH2),
        seed: u64,
        waits: Recorder,
        ready: Arc<Notify>,
    ) -> Self {
        let dial = Dial {
            addr,
            timeout: config.timeout,
            h2: h2.endpoints,
        };
        let conn = match config.mode {
            ConnectMode::Eager => {
                Conn::Eager(keeper::Keeper::spawn(connect, dial, config, seed, ready))
            }
            ConnectMode::OnDemand => Conn::OnDemand(pool::Pool::new(connect, dial)),
        };
        Self {
            inner: Arc::new(Inner {
                conn,
                slots: StreamSlots::new(h2.endpoint_max_concurrent_streams),
                waits,
            }),
        }
    }
}

/// Eager: available only while connected. On demand: always (Envoy has no
/// per-host connection gate; outlier detection, a layer above, is its
/// gate).
impl<C> Available for Http2Endpoint<C> {
    fn is_available(&self, _now: Instant) -> bool {
        match &self.inner.conn {
            Conn::Eager(keeper) => keeper.is_connected(),
            Conn::OnDemand(_) => true,
        }
    }
}

/// What a failed `try_send_request` means for the request. The server
/// provably never processed it when hyper hands it back or the connection
/// had received a GOAWAY before the stream was opened (h2 fails every new
/// stream with the remote GOAWAY error, and streams above its
/// `last_stream_id` likewise): the connection was not ready, `Unready`. A
/// refused stream on a live connection is `NotSent`. Anything else may
/// have reached the server: `Reset`.
fn send_error(mut e: hyper::client::conn::TrySendError<Request<Buffered>>) -> Outcome {
    if e.take_message().is_some() {
        return Outcome::Unready;
    }
    // hyper drops a request's callback without an answer ("dispatch task
    // is gone") when its dispatch task ended with the request still queued
    // in it (a stream pending open when a GOAWAY stopped the task): never
    // written. hyper has no predicate for this kind; its message is stable.
    if e.error().to_string().starts_with("dispatch task is gone") {
        return Outcome::Unready;
    }
    let h2 = std::error::Error::source(e.error()).and_then(|s| s.downcast_ref::<h2::Error>());
    match h2 {
        Some(h2) if h2.is_go_away() && h2.is_remote() => Outcome::Unready,
        Some(h2) if h2.reason() == Some(h2::Reason::REFUSED_STREAM) => Outcome::NotSent,
        _ => Outcome::Reset,
    }
}

/// Sends `request` on `sender`; `Unready` if its connection turned out
/// closed before the request was written.
async fn send_on(
    mut sender: SendRequest<Buffered>,
    request: Request<Buffered>,
) -> Result<Response<hyper::body::Incoming>, (Outcome, Option<Request<Buffered>>)> {
    if sender.ready().await.is_err() {
        return Err((Outcome::Unready, Some(request)));
    }
    match sender.try_send_request(request).await {
        Ok(response) => Ok(response),
        Err(mut e) => match e.take_message() {
            Some(request) => Err((Outcome::Unready, Some(request))),
            None => Err((send_error(e), None)),
        },
    }
}

impl<C: Connect> Service<Request<Buffered>> for Http2Endpoint<C> {
    type Response = Response<Buffered>;
    type Error = Outcome;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Outcome>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let asked = Instant::now();
            let sender = match &inner.conn {
                // Picked while connected: no wait. Picked while not (only a
                // panic threshold does that): not ready.
                Conn::Eager(keeper) => keeper.sender().ok_or(Outcome::Unready),
                Conn::OnDemand(pool) => pool.sender().await,
            };
            let connect_wait = asked.elapsed();
            let sender = match sender {
                Ok(sender) => sender,
                Err(outcome) => {
                    inner.waits.waits(connect_wait, None);
                    return Err(outcome);
                }
            };
            // Held until the response is read, as h2 holds the stream.
            let slot = inner.slots.acquire().await;
            let stream_wait = inner.slots.is_limited().then_some(slot.waited);
            inner.waits.waits(connect_wait, stream_wait);
            let response = match (send_on(sender, request).await, &inner.conn) {
                (Ok(response), _) => response,
                // Envoy's pool does not fail a stream because its
                // connection went away before the stream started (GOAWAY):
                // the stream waits for a new connection, which the pool
                // makes on demand (and whose failure is a connect-failure).
                (Err((Outcome::Unready, Some(request))), Conn::OnDemand(pool)) => {
                    let sender = pool.sender().await?;
                    match send_on(sender, request).await {
                        Ok(response) => response,
                        Err((outcome, _)) => return Err(outcome),
                    }
                }
                (Err((outcome, _)), _) => return Err(outcome),
            };
            let (parts, body) = response.into_parts();
            // A response within the replay cap is read whole (its trailers
            // classified); a longer one streams, holding its slot until it
            // ends.
            let body = Buffered::read(body, REPLAY_BUFFER_CAP)
                .await
                .map_err(|_| Outcome::Reset)?
                .holding(slot);
            Ok(Response::from_parts(parts, body))
        })
    }
}
