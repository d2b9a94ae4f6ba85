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
//! One concern per module, each a tower `Layer` + `Service` (or the state
//! machine one drives), each with its defaults as cited constants. In the
//! order a request passes through them (assembled in [`stack`]):
//! - [`outbound`]: the sidecar's HTTP/2 server, routing by `:authority`,
//!   and the whole-request timeout;
//! - [`retry`] with [`budget`]: retries, backoff, Linkerd budget, Envoy
//!   concurrent-retry breaker;
//! - [`balance`] with [`discovery`]: the endpoint set and the policy that
//!   picks (round robin, random, P2C, weighted); [`gate`] is what it asks
//!   of each endpoint;
//! - per endpoint: [`metrics`], [`load`] (requests in flight, peak-EWMA),
//!   [`outlier`] (Envoy's consecutive-5xx ejection), [`accrual`] (Linkerd's
//!   consecutive-failure breaker), [`classify`] (`grpc-status` → outcome),
//!   [`timeout`] (per try), and [`endpoint`] (one HTTP/2 connection,
//!   reconnect backoff with [`backoff`]);
//! - [`h2`]: the HTTP/2 settings of the listener and the endpoint
//!   connections, per mesh release;
//! - [`profile`]: mesh profiles (`linkerd`, `istio`, `consul`) as
//!   settings for those layers;
//! - [`prometheus`]: the metrics in Prometheus text format (`meshsim
//!   proxy`'s admin `/metrics`).
//!
//! The proxy depends on nothing above it: no scenario, strategy or world.
//!
//! Everything is generic over [`stockdata::transport::Connect`] and
//! [`stockdata::transport::Listener`], so the proxy runs unchanged on tokio
//! sockets, and takes time only from tokio (virtual under turmoil).

pub mod accrual;
pub mod available;
pub mod backoff;
pub mod balance;
pub mod body;
pub mod budget;
pub mod classify;
pub mod discovery;
pub mod endpoint;
pub mod grpc_error;
pub mod h2;
pub mod load;
pub mod metrics;
pub mod outbound;
pub mod outlier;
pub mod profile;
pub mod prometheus;
pub mod retry;
pub mod settings;
pub mod stack;
pub mod success_rate;
pub mod timeout;

#[cfg(test)]
mod tests;

pub use endpoint::Http2Endpoint;
pub use outbound::Outbound;
pub use profile::SidecarConfig;

use stockdata::transport::{Connect, Listener, serve_http2_with};

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

/// Runs an outbound sidecar on `listener` until accepting fails,
/// advertising its profile's HTTP/2 settings.
pub async fn serve_outbound<L: Listener, C: Connect, D: discovery::Resolve>(
    listener: L,
    outbound: Outbound<C, D>,
) -> std::io::Result<()> {
    let settings = outbound.config().h2.listener;
    // Any `:authority` its app sends, as a gRPC proxy must take.
    let listener = stockdata::transport::AnyAuthorityListener::new(listener);
    serve_http2_with(listener, outbound, settings).await
}
