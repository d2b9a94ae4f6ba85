//! HTTP/2 settings of each hop, and the stream-slot gate that makes waiting
//! at a peer's stream limit visible.
//!
//! An HTTP/2 server advertises `SETTINGS_MAX_CONCURRENT_STREAMS`; a client
//! with more requests than that in flight on one connection holds the rest
//! back until a stream closes. hyper (through h2) does this silently, inside
//! the client: the request just takes longer, and a report blames whatever
//! it measures next (the balancer, the server). [`StreamSlots`] puts the
//! same limit in front of the connection where meshsim can time it: sized
//! to the limit the peer advertises, it admits exactly the requests h2 would
//! send and records how long the others waited, so h2's own queue never
//! fills.
//!
//! ## Default values
//! Servers here are hyper's HTTP/2 server (`hyper/src/proto/h2/server.rs`,
//! hyper 1.x): 200 concurrent streams ([`HYPER_SERVER_MAX_CONCURRENT_STREAMS`]),
//! 1 MiB initial stream and connection windows. Clients are hyper's HTTP/2
//! client (`hyper/src/proto/h2/client.rs`; tonic's `Endpoint` leaves both
//! windows at hyper's default): 2 MiB stream window, 5 MiB connection
//! window. `docs/profiles.md` lists what the meshes and other servers use.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// hyper's server default for `SETTINGS_MAX_CONCURRENT_STREAMS`
/// (`DEFAULT_MAX_CONCURRENT_STREAMS`, `hyper/src/proto/h2/server.rs`).
pub const HYPER_SERVER_MAX_CONCURRENT_STREAMS: u32 = 200;
/// hyper's server default initial stream window (`DEFAULT_STREAM_WINDOW`,
/// 1 MiB, `hyper/src/proto/h2/server.rs`).
pub const HYPER_SERVER_STREAM_WINDOW: u32 = 1024 * 1024;
/// hyper's server default initial connection window (`DEFAULT_CONN_WINDOW`,
/// 1 MiB, `hyper/src/proto/h2/server.rs`).
pub const HYPER_SERVER_CONNECTION_WINDOW: u32 = 1024 * 1024;
/// hyper's client default initial stream window (`DEFAULT_STREAM_WINDOW`,
/// 2 MiB, `hyper/src/proto/h2/client.rs`).
pub const HYPER_CLIENT_STREAM_WINDOW: u32 = 2 * 1024 * 1024;
/// hyper's client default initial connection window (`DEFAULT_CONN_WINDOW`,
/// 5 MiB, `hyper/src/proto/h2/client.rs`).
pub const HYPER_CLIENT_CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;
/// The smallest initial window: RFC 9113's default, 65,535 octets (§6.9.2).
pub const MIN_WINDOW: u32 = 65_535;
/// The largest flow-control window RFC 9113 allows, 2³¹−1 (§6.9.1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;
/// The largest stream limit accepted: 2³¹−1, Envoy's default and the most
/// streams one side of a connection can ever open (stream ids are 31 bits).
pub const MAX_STREAMS: u32 = (1 << 31) - 1;

/// What an HTTP/2 server advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerH2 {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`; `None` sends none (no limit).
    pub max_concurrent_streams: Option<u32>,
    /// `SETTINGS_INITIAL_WINDOW_SIZE`: how much of a request body a client
    /// may send on one stream before the server reads it.
    pub initial_stream_window: u32,
    /// The connection-level window (raised with a WINDOW_UPDATE).
    pub initial_connection_window: u32,
}

impl ServerH2 {
    /// hyper's server defaults.
    pub const HYPER: Self = Self {
        max_concurrent_streams: Some(HYPER_SERVER_MAX_CONCURRENT_STREAMS),
        initial_stream_window: HYPER_SERVER_STREAM_WINDOW,
        initial_connection_window: HYPER_SERVER_CONNECTION_WINDOW,
    };

    /// Applies these settings to hyper's server builder.
    pub fn apply<E>(&self, builder: &mut hyper::server::conn::http2::Builder<E>) {
        builder
            .max_concurrent_streams(self.max_concurrent_streams)
            .initial_stream_window_size(self.initial_stream_window)
            .initial_connection_window_size(self.initial_connection_window);
    }

    /// The server builder every meshsim HTTP/2 server uses: tokio's
    /// executor and timer, no `date` header (stable bytes), these settings.
    pub fn builder(&self) -> hyper::server::conn::http2::Builder<hyper_util::rt::TokioExecutor> {
        let mut builder =
            hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .auto_date_header(false);
        self.apply(&mut builder);
        builder
    }

    /// The limit as text: a number or `unlimited`.
    pub fn streams_text(&self) -> String {
        streams_text(self.max_concurrent_streams)
    }
}

impl Default for ServerH2 {
    fn default() -> Self {
        Self::HYPER
    }
}

/// A stream limit as the programs' flags take it: an integer from 1 to
/// 2³¹−1, or `unlimited` (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimitArg(pub Option<u32>);

impl std::str::FromStr for StreamLimitArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "unlimited" {
            return Ok(Self(None));
        }
        match s.parse::<u32>() {
            Ok(n) if (1..=MAX_STREAMS).contains(&n) => Ok(Self(Some(n))),
            _ => Err(format!(
                "expected an integer from 1 to {MAX_STREAMS}, or \"unlimited\", got {s:?}"
            )),
        }
    }
}

impl std::fmt::Display for StreamLimitArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&streams_text(self.0))
    }
}

/// A stream limit as text: a number or `unlimited`.
pub fn streams_text(limit: Option<u32>) -> String {
    limit.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}

/// A client's receive windows (how much of a response a server may send
/// before the client reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientH2 {
    /// Initial stream window.
    pub initial_stream_window: u32,
    /// Initial connection window.
    pub initial_connection_window: u32,
}

impl ClientH2 {
    /// hyper's client defaults (what tonic's `Endpoint` uses).
    pub const HYPER: Self = Self {
        initial_stream_window: HYPER_CLIENT_STREAM_WINDOW,
        initial_connection_window: HYPER_CLIENT_CONNECTION_WINDOW,
    };

    /// Applies these settings to hyper's client builder.
    pub fn apply<E: Clone>(&self, builder: &mut hyper::client::conn::http2::Builder<E>) {
        builder
            .initial_stream_window_size(self.initial_stream_window)
            .initial_connection_window_size(self.initial_connection_window);
    }
}

impl Default for ClientH2 {
    fn default() -> Self {
        Self::HYPER
    }
}

/// The stream slots of one HTTP/2 connection, as the peer's advertised
/// `SETTINGS_MAX_CONCURRENT_STREAMS` allows them: a FIFO gate every request
/// passes before it is sent. Cheap to clone (clones share the slots).
#[derive(Debug, Clone, Default)]
pub struct StreamSlots {
    slots: Option<Arc<Semaphore>>,
}

/// A held stream slot; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    _permit: Option<OwnedSemaphorePermit>,
    /// How long the request waited for it.
    pub waited: Duration,
}

impl StreamSlots {
    /// Slots for a peer advertising `limit` (`None`: no limit, no gate).
    pub fn new(limit: Option<u32>) -> Self {
        Self {
            slots: limit.map(|n| Arc::new(Semaphore::new(n as usize))),
        }
    }

    /// Whether there is a limit at all.
    pub fn is_limited(&self) -> bool {
        self.slots.is_some()
    }

    /// Waits (FIFO: tokio's semaphore is fair) for a slot.
    pub async fn acquire(&self) -> StreamSlot {
        let Some(slots) = &self.slots else {
            return StreamSlot {
                _permit: None,
                waited: Duration::ZERO,
            };
        };
        // Uncontended: no clock read, no wait.
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return StreamSlot {
                _permit: Some(permit),
                waited: Duration::ZERO,
            };
        }
        let start = Instant::now();
        // The semaphore is never closed, so this always yields a permit.
        let permit = slots.clone().acquire_owned().await.ok();
        StreamSlot {
            _permit: permit,
            waited: start.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_third_request_waits_for_the_first_to_finish() {
        let slots = StreamSlots::new(Some(2));
        let a = slots.acquire().await;
        let b = slots.acquire().await;
        assert_eq!((a.waited, b.waited), (Duration::ZERO, Duration::ZERO));
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire().await.waited }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(a);
        assert_eq!(waiting.await.ok(), Some(Duration::from_millis(30)));
        drop(b);
    }

    #[test]
    fn stream_limits_parse_as_numbers_or_unlimited() {
        let parse = |s: &str| s.parse::<StreamLimitArg>().map(|l| l.0);
        assert_eq!(parse("100"), Ok(Some(100)));
        assert_eq!(parse("unlimited"), Ok(None));
        for bad in ["0", "-1", "2147483648", "none", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_never_waits() {
        let slots = StreamSlots::new(None);
        assert!(!slots.is_limited());
        let held: Vec<_> = futures::future::join_all((0..1000).map(|_| slots.acquire())).await;
        assert!(held.iter().all(|s| s.waited == Duration::ZERO));
    }
}
