//! One HTTP/2 connection to one endpoint, with reconnect backoff.
//!
//! Proxies keep a long-lived HTTP/2 connection per endpoint and multiplex
//! requests over it, so a request costs a stream, not a handshake. The
//! connection is opened on first use and reopened when it has closed (peer
//! gone, GOAWAY). A failed connect starts an exponential backoff: until it
//! ends the endpoint reports itself unavailable and requests to it fail at
//! once as `ConnectFailed` (which the balancer avoids and failure accrual
//! counts), rather than each one paying for a doomed handshake.
//!
//! Defaults (linkerd2-proxy as shipped in Linkerd stable 2.19,
//! `linkerd/app/src/env.rs`, `DEFAULT_OUTBOUND_CONNECT_BACKOFF` and
//! `DEFAULT_OUTBOUND_CONNECT_TIMEOUT`): backoff 100 ms doubling to 60 s with
//! 10 % jitter; connect timeout 1 s. The maximum was 500 ms up to 2.18;
//! linkerd/linkerd2-proxy#3992 (July 2025) raised it to 60 s outbound and
//! 10 s inbound.

use super::body::Buffered;
use super::classify::Outcome;
use super::gate::Available;
use super::h2::SidecarH2;
use super::metrics::Waits;
use http::{Request, Response};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use stockdata::transport::{ClientH2, Connect, StreamSlots};
use tokio::time::Instant;
use tower::Service;

/// linkerd2-proxy's minimum connect backoff.
pub const LINKERD_CONNECT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// linkerd2-proxy's maximum outbound connect backoff (Linkerd stable 2.19;
/// 500 ms up to 2.18, raised by linkerd/linkerd2-proxy#3992).
pub const LINKERD_CONNECT_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// linkerd2-proxy's maximum inbound connect backoff (Linkerd stable 2.19;
/// 500 ms up to 2.18). The sidecar modelled here is outbound only.
pub const LINKERD_INBOUND_CONNECT_BACKOFF_MAX: Duration = Duration::from_secs(10);
/// linkerd2-proxy's outbound HTTP fail-fast timeout
/// (`DEFAULT_OUTBOUND_HTTP_FAILFAST_TIMEOUT`, 3 s, `linkerd/app/src/env.rs`).
pub const LINKERD_OUTBOUND_FAILFAST_TIMEOUT: Duration = Duration::from_secs(3);
/// linkerd2-proxy's connect-backoff jitter ratio.
pub const LINKERD_CONNECT_BACKOFF_JITTER: f64 = 0.1;
/// linkerd2-proxy's outbound connect timeout.
pub const LINKERD_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long h2 remembers a locally reset stream, in wall-clock time; far
/// longer than any simulation so that only its count limit applies.
pub const H2_RESET_STREAM_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Connection settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectConfig {
    /// Give up a connect attempt after this long.
    pub timeout: Duration,
    /// First backoff after a failed connect.
    pub backoff_min: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    /// Extra random share of each backoff, 0..=jitter.
    pub backoff_jitter: f64,
}

impl Default for ConnectConfig {
    /// linkerd2-proxy's defaults.
    fn default() -> Self {
        Self {
            timeout: LINKERD_CONNECT_TIMEOUT,
            backoff_min: LINKERD_CONNECT_BACKOFF_MIN,
            backoff_max: LINKERD_CONNECT_BACKOFF_MAX,
            backoff_jitter: LINKERD_CONNECT_BACKOFF_JITTER,
        }
    }
}

/// A tower service sending each request on the endpoint's HTTP/2 connection
/// and buffering the response.
pub struct Http2Endpoint<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    addr: SocketAddr,
    connect: C,
    config: ConnectConfig,
    h2: ClientH2,
    /// Mirrors the endpoint's `SETTINGS_MAX_CONCURRENT_STREAMS`.
    slots: StreamSlots,
    /// Where the waits for the connection and for a stream are recorded.
    waits: Waits,
    /// The live sender, or an in-progress connect others wait for.
    sender: Arc<tokio::sync::Mutex<Option<SendRequest<Buffered>>>>,
    backoff: Mutex<Backoff>,
}

#[derive(Debug)]
struct Backoff {
    failures: u32,
    until: Option<Instant>,
    rng: ChaCha8Rng,
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
    /// `seed` drives the backoff jitter. Its connection uses the endpoint
    /// side of `h2`, and the time each request waits for the connection or
    /// a stream slot goes to `waits`.
    pub fn new(
        addr: SocketAddr,
        connect: C,
        (config, h2): (ConnectConfig, &SidecarH2),
        seed: u64,
        waits: Waits,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                addr,
                connect,
                config,
                h2: h2.endpoints,
                slots: StreamSlots::new(h2.endpoint_max_concurrent_streams),
                waits,
                sender: Arc::new(tokio::sync::Mutex::new(None)),
                backoff: Mutex::new(Backoff {
                    failures: 0,
                    until: None,
                    rng: ChaCha8Rng::seed_from_u64(seed),
                }),
            }),
        }
    }
}

/// Available unless in a connect backoff.
impl<C> Available for Http2Endpoint<C> {
    fn is_available(&self, now: Instant) -> bool {
        crate::sync::lock(&self.inner.backoff)
            .until
            .is_none_or(|until| now >= until)
    }
}

impl<C: Connect> Inner<C> {
    fn backoff(&self) -> std::sync::MutexGuard<'_, Backoff> {
        crate::sync::lock(&self.backoff)
    }

    fn connect_failed(&self, now: Instant) {
        let mut b = self.backoff();
        let Backoff { failures, rng, .. } = &mut *b;
        let delay = super::backoff::exponential(
            self.config.backoff_min,
            self.config.backoff_max,
            *failures,
            self.config.backoff_jitter,
            rng,
        );
        b.failures = b.failures.saturating_add(1);
        b.until = Some(now + delay);
    }

    /// The live connection's sender, connecting first if there is none.
    ///
    /// The connection belongs to the endpoint, not to the request that
    /// found it missing: it is set up in a task of its own, so a per-try
    /// timeout (or a caller giving up) ends the attempt without cancelling
    /// the connect. The next attempt finds the connection ready instead of
    /// starting over, and no half-open socket is left behind.
    async fn sender(self: &Arc<Self>) -> Result<SendRequest<Buffered>, Outcome> {
        let mut slot = self.sender.clone().lock_owned().await;
        if let Some(sender) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        *slot = None;
        let now = Instant::now();
        if self.backoff().until.is_some_and(|until| now < until) {
            return Err(Outcome::ConnectFailed);
        }
        let this = self.clone();
        let setup = tokio::spawn(async move {
            let sender = this.establish().await?;
            // Waiting attempts take the lock next and find it.
            *slot = Some(sender.clone());
            Ok(sender)
        });
        setup.await.unwrap_or(Err(Outcome::ConnectFailed))
    }

    /// Opens and hands-shakes a new connection, keeping the backoff.
    async fn establish(&self) -> Result<SendRequest<Buffered>, Outcome> {
        let connected =
            tokio::time::timeout(self.config.timeout, self.connect.connect(self.addr)).await;
        let io = match connected {
            Ok(Ok(io)) => io,
            Ok(Err(_)) | Err(_) => {
                self.connect_failed(Instant::now());
                return Err(Outcome::ConnectFailed);
            }
        };
        let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            // h2 forgets locally reset streams after `reset_stream_duration`
            // of *wall-clock* time (default 1 s, `std::time::Instant`). Under
            // cancellation (per-try timeouts) that made runs differ between
            // processes; a day is longer than any run, so only h2's
            // count-based limit applies, which is deterministic.
            .reset_stream_duration(H2_RESET_STREAM_DURATION);
        self.h2.apply(&mut builder);
        let handshake = builder.handshake(TokioIo::new(io)).await;
        let (sender, connection) = match handshake {
            Ok(parts) => parts,
            Err(_) => {
                self.connect_failed(Instant::now());
                return Err(Outcome::ConnectFailed);
            }
        };
        {
            let mut b = self.backoff();
            b.failures = 0;
            b.until = None;
        }
        tokio::spawn(async move {
            // Ends when the peer goes away; the next request sees
            // `is_closed()` and reconnects.
            let _ = connection.await;
        });
        Ok(sender)
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
            let sender = inner.sender().await;
            let connect_wait = asked.elapsed();
            let mut sender = match sender {
                Ok(sender) => sender,
                Err(outcome) => {
                    inner.waits.record(connect_wait, None);
                    return Err(outcome);
                }
            };
            // Held until the response is read, as h2 holds the stream.
            let slot = inner.slots.acquire().await;
            let stream_wait = inner.slots.is_limited().then_some(slot.waited);
            inner.waits.record(connect_wait, stream_wait);
            if sender.ready().await.is_err() {
                return Err(Outcome::NotSent);
            }
            let response = match sender.try_send_request(request).await {
                Ok(response) => response,
                // hyper hands the request back when it was never written.
                Err(mut e) => {
                    return Err(if e.take_message().is_some() {
                        Outcome::NotSent
                    } else {
                        Outcome::Reset
                    });
                }
            };
            let (parts, body) = response.into_parts();
            let body = Buffered::collect(body).await.map_err(|_| Outcome::Reset)?;
            drop(slot);
            Ok(Response::from_parts(parts, body))
        })
    }
}
