//! The outbound sidecar's request path: route by `:authority`, balance,
//! forward, and answer proxy-side failures in gRPC terms.

use super::grpc_error;
use super::round_robin::RoundRobin;
use super::{Http2Endpoint, ProxyError};
use crate::cluster::Cluster;
use crate::strategy::Balancer;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use stockdata::transport::Connect;
use tokio::sync::Mutex;
use tower::{Service, ServiceExt};

/// The body of every response the proxy returns.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// The outbound proxy service; cheap to clone (state is shared by every
/// connection the application opens to its sidecar).
pub struct Outbound<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    connect: C,
    cluster: Cluster,
    balancer: Balancer,
    /// Service name → its balancer, created on the first request for it.
    routes: Mutex<BTreeMap<String, RoundRobin<Http2Endpoint<C>>>>,
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
    /// A sidecar that finds endpoints in `cluster` and balances with `balancer`.
    pub fn new(cluster: Cluster, connect: C, balancer: Balancer) -> Self {
        Self {
            inner: Arc::new(Inner {
                connect,
                cluster,
                balancer,
                routes: Mutex::new(BTreeMap::new()),
            }),
        }
    }
}

impl<C: Connect> Inner<C> {
    async fn forward(&self, request: Request<Incoming>) -> Result<Response<Incoming>, ProxyError> {
        let service = authority_service(&request).ok_or(ProxyError::NoAuthority)?;
        let response = {
            let mut routes = self.routes.lock().await;
            if !routes.contains_key(&service) {
                let endpoints: Vec<_> = self
                    .cluster
                    .ready_endpoints(&service)
                    .into_iter()
                    .map(|e| Http2Endpoint::new(e.addr, self.connect.clone()))
                    .collect();
                if endpoints.is_empty() {
                    return Err(ProxyError::NoEndpoints(service));
                }
                let balancer = match self.balancer {
                    Balancer::RoundRobin => RoundRobin::new(endpoints),
                };
                routes.insert(service.clone(), balancer);
            }
            let Some(balancer) = routes.get_mut(&service) else {
                return Err(ProxyError::NoEndpoints(service));
            };
            // Endpoints are always ready (HTTP/2 multiplexes), so this
            // resolves at once and the lock is held only to pick.
            balancer.ready().await?.call(request)
        };
        response.await
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
        Box::pin(async move {
            Ok(match inner.forward(request).await {
                Ok(response) => response.map(BodyExt::boxed),
                Err(e) => grpc_error::response(tonic::Code::Unavailable, &e.to_string()),
            })
        })
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
            .header("host", "stockweb:8080")
            .body(())
            .expect("request");
        assert_eq!(authority_service(&with_host), Some("stockweb".into()));
        assert_eq!(authority_service(&req("/x")), None);
    }
}
