//! StockWeb's one gRPC client, and how it finds StockData.
//!
//! This reproduces the seed's `HttpClient` behaviour: the client resolves the
//! service name once, opens one HTTP/2 connection to the first address DNS
//! answered, and keeps it for the handler's lifetime (forever unless
//! `handler_lifetime` is set). Every call multiplexes onto that connection, so
//! every call lands on one replica: the problem a mesh solves.
//!
//! With [`Upstream::Sidecar`] the application is unchanged except that its
//! connection goes to the pod-local proxy (as iptables redirection does in a
//! real mesh); the `:authority` of each request still names the service, and
//! the proxy balances every request on its own.
//!
//! The parts: this file holds the client's configuration ([`Upstream`],
//! [`ClientConfig`], [`ClientHttp2`]) and its error; `set` the connections
//! one page uses ([`Conn`], [`ClientSet`]) and how a failed call moves
//! them; `cached` the [`StockClient`], which resolves, connects and keeps
//! its connections for as long as the upstream's rules allow.

mod cached;
mod set;

pub use cached::StockClient;
pub use set::{ClientSet, Conn, is_connection_failure};

use crate::code_name;
use std::net::SocketAddr;
use std::time::Duration;
use stockdata::transport::{ClientH2, ServerH2};

/// Where StockWeb's client sends its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Resolve `service` through DNS and connect to the first answer.
    Direct {
        /// The service's DNS name, e.g. `stockdata`.
        service: String,
        /// The service port.
        port: u16,
    },
    /// gRPC client-side round robin: resolve `service` (a headless service:
    /// every ready pod), keep one connection per address, and send each call
    /// to the next one. Like grpc-go's DNS resolver, it does not poll: a call
    /// that fails on its connection asks for re-resolution (`ResolveNow`),
    /// which happens at the next call at least `min_interval` after the
    /// previous resolution.
    ClientRoundRobin {
        /// The service's DNS name.
        service: String,
        /// The service port.
        port: u16,
        /// The minimum gap between two resolutions (grpc-go's
        /// `MinResolutionInterval`, 30 s), not a period.
        min_interval: Duration,
    },
    /// Pin until error (Palantir dialogue's `PIN_UNTIL_ERROR`, what most
    /// HTTP clients do on a broken connection): resolve `service` (every
    /// ready pod), shuffle the answer once, and send every call to one
    /// address until a call fails there with a server error or a broken
    /// connection; then move on to the next address. `RESOURCE_EXHAUSTED`
    /// (HTTP 429) does not move the pin: dialogue deliberately keeps
    /// rate-limited clients where they are. The list is resolved and
    /// reshuffled again every [`PIN_RESHUFFLE_EVERY`], and after a broken
    /// connection (the next call starts from a fresh answer).
    PinUntilError {
        /// The service's DNS name.
        service: String,
        /// The service port.
        port: u16,
        /// Seed of the shuffles.
        seed: u64,
    },
    /// Connect to the pod's outbound sidecar; requests still name `service`.
    Sidecar {
        /// The service's DNS name, sent as `:authority`.
        service: String,
        /// The service port, sent as part of `:authority`.
        port: u16,
        /// The sidecar's outbound listener (on the pod's loopback).
        proxy: SocketAddr,
    },
}

/// How often pin-until-error resolves and reshuffles its list: palantir/
/// dialogue `PinUntilErrorNodeSelectionStrategyChannel.RESHUFFLE_EVERY`
/// (10 minutes; dialogue adds ±30 s of jitter, not modelled here).
pub const PIN_RESHUFFLE_EVERY: Duration = Duration::from_secs(600);

/// Client set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Where calls go.
    pub upstream: Upstream,
    /// Re-resolve and reconnect once the cached client is this old
    /// (`HttpClientFactory`'s handler lifetime). `None`: never. (Client-side
    /// round robin re-resolves on connection failure instead.)
    pub handler_lifetime: Option<Duration>,
    /// HTTP/2 settings of the client's connections.
    pub http2: ClientHttp2,
}

/// The HTTP/2 side of the client: its receive windows, and the stream limit
/// its peer (StockData, or the sidecar) advertises, which each connection's
/// [`StreamSlots`](stockdata::transport::StreamSlots) mirror so that a call
/// waiting for a stream is timed ([`crate::Call::stream_wait_us`]) instead
/// of queueing unseen inside h2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHttp2 {
    /// Receive windows (tonic's `Endpoint` defaults are hyper's).
    pub windows: ClientH2,
    /// The peer's `SETTINGS_MAX_CONCURRENT_STREAMS` (`None`: no limit).
    pub peer_max_concurrent_streams: Option<u32>,
}

impl Default for ClientHttp2 {
    /// hyper's client windows, a hyper server as the peer (200 streams).
    fn default() -> Self {
        Self {
            windows: ClientH2::HYPER,
            peer_max_concurrent_streams: ServerH2::HYPER.max_concurrent_streams,
        }
    }
}

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The DNS query failed.
    #[error("resolving {name}: {source}")]
    Resolve {
        /// The name looked up.
        name: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// DNS answered with no address.
    #[error("{0} has no ready endpoints")]
    NoEndpoints(String),
    /// The service name does not form a valid URI.
    #[error("invalid service name {0:?}")]
    InvalidName(String),
}

impl ClientError {
    /// The gRPC code a call reports when it had no client.
    pub fn code_name(&self) -> &'static str {
        code_name(tonic::Code::Unavailable)
    }
}
