//! The outbound sidecar: the HTTP/2 server side of the request path.
//!
//! It reads each request's `:authority`, buffers the body (so retries can
//! resend it), and sends it down that service's route ([`super::stack`]),
//! under the whole-request timeout.
//!
//! Proxy-side failures reach the application as well-formed gRPC errors
//! ([`grpc_error`](super::grpc_error)).

use super::balance::send;
use super::body::Buffered;
use super::discovery::watch_delayed;
use super::endpoint::Http2Endpoint;
use super::metrics::ProxyMetrics;
use super::profile::SidecarConfig;
use super::stack::{Route, route};
use super::{ProxyError, grpc_error};
use crate::control::ControlPlane;
use crate::sync::lock;
use http::{Request, Response};
use hyper::body::Incoming;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use stockdata::transport::Connect;
use tower::Service;

/// The body of every response the proxy returns.
pub type ProxyBody = Buffered;

/// The outbound proxy service; cheap to clone (state is shared by every
/// connection the application opens to its sidecar).
pub struct Outbound<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    connect: C,
    cluster: ControlPlane,
    config: SidecarConfig,
    rng: Mutex<ChaCha8Rng>,
    /// Service name → its route, created on the first request for it.
    routes: Mutex<BTreeMap<String, Route<Http2Endpoint<C>>>>,
    metrics: Arc<Mutex<ProxyMetrics>>,
}

impl<C> Clone for Outbound<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

// === impl Outbound ===

impl<C: Connect> Outbound<C> {
    /// A sidecar finding endpoints in `cluster`, configured by `config`,
    /// seeded by `seed`, recording into `metrics`.
    pub fn new(
        cluster: ControlPlane,
        connect: C,
        config: SidecarConfig,
        seed: u64,
        metrics: Arc<Mutex<ProxyMetrics>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                connect,
                cluster,
                config,
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
                routes: Mutex::new(BTreeMap::new()),
                metrics,
            }),
        }
    }

    /// Resolves `service` now, as a sidecar that is up before its app
    /// sends: its endpoints start connecting (eager mode) before the first
    /// request instead of at it. On-demand (Envoy) sidecars have nothing
    /// to set up and resolve at the first request, as before.
    pub fn warm(&self, service: &str) {
        if self.inner.config.connect.mode == super::endpoint::ConnectMode::Eager {
            self.inner.route(service);
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SidecarConfig {
        &self.inner.config
    }

    /// The metrics recorded so far.
    pub fn metrics(&self) -> ProxyMetrics {
        lock(&self.inner.metrics).clone()
    }
}

impl<C: Connect> Inner<C> {
    fn route(&self, service: &str) -> Route<Http2Endpoint<C>> {
        let mut routes = lock(&self.routes);
        if let Some(route) = routes.get(service) {
            return route.clone();
        }
        let mut rng = lock(&self.rng);
        let discovery = watch_delayed(&self.cluster, service, self.config.discovery_delay);
        let route = route(
            &self.config,
            self.connect.clone(),
            discovery,
            self.metrics.clone(),
            &mut *rng,
        );
        routes.insert(service.to_string(), route.clone());
        route
    }

    async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let Some(service) = authority_service(&request) else {
            return grpc_error::response(
                tonic::Code::Unavailable,
                &ProxyError::NoAuthority.to_string(),
            );
        };
        let (parts, body) = request.into_parts();
        let body = match Buffered::collect(body).await {
            Ok(body) => body,
            Err(e) => {
                return grpc_error::response(
                    tonic::Code::Unavailable,
                    &format!("reading request: {e}"),
                );
            }
        };
        let request = Request::from_parts(parts, body);
        let mut route = self.route(&service);
        let attempt = match self.config.request_timeout {
            Some(limit) => match tokio::time::timeout(limit, send(&mut route, request)).await {
                Ok(attempt) => attempt,
                Err(_) => {
                    lock(&self.metrics).timeouts += 1;
                    return grpc_error::response(tonic::Code::DeadlineExceeded, "request timeout");
                }
            },
            None => send(&mut route, request).await,
        };
        match attempt.response {
            Some(response) => response,
            None => {
                let message = match &attempt.endpoint {
                    Some(e) => format!("{} from {e}", attempt.outcome.name()),
                    None => ProxyError::NoEndpoints(service).to_string(),
                };
                grpc_error::response(attempt.outcome.code(), &message)
            }
        }
    }
}

/// The service name of a request: the host part of its `:authority`, up to
/// the first dot (`stockdata.default.svc.cluster.local` → `stockdata`).
fn authority_service<B>(request: &Request<B>) -> Option<String> {
    let host = request.uri().host().or_else(|| {
        request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.split(':').next().unwrap_or(h))
    })?;
    host.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl<C: Connect> Service<Request<Incoming>> for Outbound<C> {
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { Ok(inner.forward(request).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_from_authority() {
        let req = |uri: &str| Request::builder().uri(uri).body(()).expect("request");
        assert_eq!(
            authority_service(&req("http://stockdata:50051/stockdata.v1.Stocks/Get")),
            Some("stockdata".into())
        );
        assert_eq!(
            authority_service(&req("http://stockdata.default.svc.cluster.local:50051/x")),
            Some("stockdata".into())
        );
        let with_host = Request::builder()
            .uri("/x")
            .header("host", "frontend:8080")
            .body(())
            .expect("request");
        assert_eq!(authority_service(&with_host), Some("frontend".into()));
        assert_eq!(authority_service(&req("/x")), None);
    }
}
