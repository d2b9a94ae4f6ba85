//! The sidecar proxy data plane.
//!
//! A sidecar sits in the application's pod. The application opens ONE
//! HTTP/2 connection to it (as it would to the service); the sidecar reads
//! each request's `:authority`, looks the service up in the cluster's
//! endpoint set, and sends that request, on its own connections, to the
//! endpoint its balancer picks. Balancing therefore happens per request, not
//! per connection: this is what Linkerd, Istio/Envoy and Consul Connect do,
//! and why a meshed gRPC client spreads load with no code change.
//!
//! The pieces are tower services, one per module:
//! - [`endpoint::Http2Endpoint`]: one lazily opened HTTP/2 connection to a
//!   pod, reopened when it closes;
//! - [`round_robin::RoundRobin`]: each request to the next endpoint in turn;
//! - [`outbound::Outbound`]: routes by `:authority` to a per-service balancer
//!   and turns proxy-side failures into gRPC `UNAVAILABLE` responses.
//!
//! Everything is generic over [`stockdata::transport::Connect`] and
//! [`stockdata::transport::Listener`], so the proxy runs unchanged on tokio
//! sockets.

pub mod endpoint;
pub mod grpc_error;
pub mod outbound;
pub mod round_robin;

pub use endpoint::Http2Endpoint;
pub use outbound::Outbound;
pub use round_robin::RoundRobin;

use stockdata::transport::{Connect, Listener, serve_http2};

/// Why the proxy could not forward a request.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Opening a connection to the endpoint failed.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// The endpoint.
        addr: std::net::SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The HTTP/2 handshake or the request itself failed.
    #[error("HTTP/2 to {addr}: {source}")]
    Http {
        /// The endpoint.
        addr: std::net::SocketAddr,
        /// hyper's error.
        source: hyper::Error,
    },
    /// The service has no ready endpoint.
    #[error("no ready endpoints for {0}")]
    NoEndpoints(String),
    /// A balancer was asked to pick from an empty set.
    #[error(transparent)]
    Empty(#[from] round_robin::NoEndpoints),
    /// The request names no service.
    #[error("request has no :authority")]
    NoAuthority,
}

/// Runs an outbound sidecar on `listener` until accepting fails.
pub async fn serve_outbound<L: Listener, C: Connect>(
    listener: L,
    outbound: Outbound<C>,
) -> std::io::Result<()> {
    serve_http2(listener, outbound).await
}
