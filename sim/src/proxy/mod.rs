//! The sidecar proxy data plane.
//!
//! A sidecar sits in the application's pod. The application opens ONE
//! HTTP/2 connection to it (as it would to the service); the sidecar reads
//! each request's `:authority`, finds the service's endpoints through
//! discovery, and sends that request, on its own connections, to the
//! endpoint its balancer picks. Balancing therefore happens per request, not
//! per connection: this is what Linkerd, Istio/Envoy and Consul Connect do,
//! and why a meshed gRPC client spreads load with no code change.
//!
//! One policy per module, each a tower service or a state machine a tower
//! service drives, each with its defaults as cited constants:
//! - [`discovery`]: endpoint changes, delivered after a propagation delay;
//! - [`endpoint`]: one HTTP/2 connection per endpoint, reconnect backoff;
//! - [`balance`]: round robin, random, least-request P2C, peak-EWMA P2C,
//!   weighted; with [`load`] metrics;
//! - [`accrual`]: Linkerd's consecutive-failure circuit breaker;
//! - [`outlier`]: Envoy's consecutive-5xx outlier detection;
//! - [`retry`] with [`budget`]: retries, backoff, Linkerd budget, Envoy
//!   retry circuit breaker; per-try and request timeouts;
//! - [`profile`]: mesh profiles (`linkerd`, `istio`, `consul`);
//! - [`outbound`]: the assembled request path.
//!
//! Everything is generic over [`stockdata::transport::Connect`] and
//! [`stockdata::transport::Listener`], so the proxy runs unchanged on tokio
//! sockets, and takes time only from tokio (virtual under turmoil).

pub mod accrual;
pub mod balance;
pub mod body;
pub mod budget;
pub mod classify;
pub mod discovery;
pub mod endpoint;
pub mod grpc_error;
pub mod load;
pub mod metrics;
pub mod outbound;
pub mod outlier;
pub mod profile;
pub mod retry;

pub use endpoint::Http2Endpoint;
pub use outbound::Outbound;
pub use profile::SidecarConfig;

use stockdata::transport::{Connect, Listener, serve_http2};

/// Why the proxy could not forward a request.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The service has no available endpoint.
    #[error("no available endpoints for {0}")]
    NoEndpoints(String),
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
