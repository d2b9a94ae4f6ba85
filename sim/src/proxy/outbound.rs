//! The outbound sidecar: the HTTP/2 server side of the request path.
//!
//! It reads each request's `:authority`, buffers the body up to
//! [`REPLAY_BUFFER_CAP`] (so retries can resend it; a longer body is
//! streamed and its request not retried, [`super::body`]), and sends it down that service's route ([`super::stack`]),
//! under the whole-request timeout.
//!
//! Proxy-side failures reach the application as well-formed gRPC errors
//! ([`grpc_error`](super::grpc_error)).

use super::balance::send;
use super::body::{Buffered, REPLAY_BUFFER_CAP};
use super::discovery::{Resolve, watch_delayed};
use super::endpoint::Http2Endpoint;
use super::metrics::{ProxyMetrics, Recorder};
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
use std::time::Duration;
use stockdata::transport::Connect;
use tower::Service;

/// Most routes a sidecar keeps, one per service an `:authority` names.
/// Each holds a balancer, its endpoints' connections and a discovery
/// watch; without a bound, a client naming a new authority per request
/// grew the proxy without limit (defect N19: ~3.3 KB per authority, never
/// freed). 256 is meshsim's choice, far above the services one app calls;
/// the least recently used route is dropped (its in-flight requests
/// finish on it) and rebuilt if named again. linkerd2-proxy bounds the same
/// cache by idleness instead ("all dynamically-created services should be
/// dropped if they don't receive traffic for 1 minute", linkerd2-proxy
/// `staleness.md`). Not bounded here: the cluster's per-service discovery
/// channel, which a simulated cluster or a `meshsim proxy` endpoints list
/// keeps for services it knows.
pub const MAX_ROUTES: usize = 256;

/// A least-recently-used map of routes by service name.
struct Routes<R> {
    by_service: BTreeMap<String, (R, u64)>,
    by_use: BTreeMap<u64, String>,
    tick: u64,
}

impl<R: Clone> Routes<R> {
    fn new() -> Self {
        Self {
            by_service: BTreeMap::new(),
            by_use: BTreeMap::new(),
            tick: 0,
        }
    }

    fn get(&mut self, service: &str) -> Option<R> {
        let (route, used) = self.by_service.get_mut(service)?;
        // Already the most recently used (one service, the usual case):
        // nothing to reorder.
        if *used != self.tick {
            self.tick += 1;
            if let Some(name) = self.by_use.remove(used) {
                self.by_use.insert(self.tick, name);
            }
            *used = self.tick;
        }
        Some(route.clone())
    }

    fn insert(&mut self, service: &str, route: R) {
        while self.by_service.len() >= MAX_ROUTES {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            self.by_service.remove(&oldest);
        }
        self.tick += 1;
        self.by_use.insert(self.tick, service.to_string());
        self.by_service
            .insert(service.to_string(), (route, self.tick));
    }

    fn len(&self) -> usize {
        self.by_service.len()
    }
}

/// A service's route and its name as the route cache keeps it.
type NamedRoute<C> = (Route<Http2Endpoint<C>>, Arc<str>);

/// The body of every response the proxy returns.
pub type ProxyBody = Buffered;

/// The outbound proxy service; cheap to clone (state is shared by every
/// connection the application opens to its sidecar). It connects with `C`
/// and finds endpoints with `D`; `D` defaults to the simulated cluster's
/// [`ControlPlane`] only so that callers naming `Outbound<C>` keep doing
/// so: nothing here depends on it beyond [`Resolve`].
pub struct Outbound<C, D = ControlPlane> {
    inner: Arc<Inner<C, D>>,
}

struct Inner<C, D> {
    connect: C,
    resolver: D,
    config: SidecarConfig,
    rng: Mutex<ChaCha8Rng>,
    /// Service name → its route, created on the first request for it;
    /// at most [`MAX_ROUTES`], the least recently used dropped first.
    routes: Mutex<Routes<NamedRoute<C>>>,
    /// Shared with the routes' layers, which record into it; the sidecar's
    /// own events (request timeouts) go through `recorder`.
    metrics: Arc<Mutex<ProxyMetrics>>,
    recorder: Recorder,
}

impl<C, D> Clone for Outbound<C, D> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

// === impl Outbound ===

impl<C: Connect, D: Resolve> Outbound<C, D> {
    /// A sidecar finding endpoints with `resolver` (the simulated cluster's
    /// control plane, say), configured by `config`, seeded by `seed`,
    /// recording into `metrics`.
    pub fn new(
        resolver: D,
        connect: C,
        config: SidecarConfig,
        seed: u64,
        metrics: Arc<Mutex<ProxyMetrics>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                connect,
                resolver,
                config,
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
                routes: Mutex::new(Routes::new()),
                recorder: Recorder::new(metrics.clone()),
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

    /// Waits until every endpoint of `service`'s route can take a request
    /// (eager mode: until each is connected), polling every 5 ms, for at
    /// most `limit`. Returns how many could, of how many. For a front end
    /// that shows a page the moment it is told the sidecar is up (the real
    /// demo): the first page then shows the balance, not the connect race.
    /// On-demand (Envoy) routes, made at the first request, answer (0, 0).
    pub async fn settle(&self, service: &str, limit: Duration) -> (usize, usize) {
        let route = lock(&self.inner.routes)
            .get(service)
            .map(|(route, _)| route);
        let Some(route) = route else { return (0, 0) };
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let (up, all) = route.get_ref().available();
            if (up == all && all > 0) || tokio::time::Instant::now() >= deadline {
                return (up, all);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SidecarConfig {
        &self.inner.config
    }

    /// How many routes the sidecar holds (at most [`MAX_ROUTES`]).
    pub fn route_count(&self) -> usize {
        lock(&self.inner.routes).len()
    }

    /// The metrics recorded so far.
    pub fn metrics(&self) -> ProxyMetrics {
        self.inner.recorder.snapshot()
    }
}

impl<C: Connect, D: Resolve> Inner<C, D> {
    fn route(&self, service: &str) -> Route<Http2Endpoint<C>> {
        self.route_named(service).0
    }

    /// [`Self::route`] and the service's name as the route keeps it.
    fn route_named(&self, service: &str) -> (Route<Http2Endpoint<C>>, Arc<str>) {
        let mut routes = lock(&self.routes);
        if let Some(route) = routes.get(service) {
            return route;
        }
        let mut rng = lock(&self.rng);
        let discovery = watch_delayed(&self.resolver, service, self.config.discovery_delay);
        let route = route(
            &self.config,
            self.connect.clone(),
            discovery,
            self.metrics.clone(),
            &mut *rng,
        );
        let named: Arc<str> = service.into();
        routes.insert(service, (route.clone(), named.clone()));
        (route, named)
    }

    async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        let Some(service) = authority_of(&parts.uri, &parts.headers) else {
            return grpc_error::response(
                tonic::Code::Unavailable,
                &ProxyError::NoAuthority.to_string(),
            );
        };
        let body = match Buffered::read(body, REPLAY_BUFFER_CAP).await {
            Ok(body) => body,
            Err(e) => {
                return grpc_error::response(
                    tonic::Code::Unavailable,
                    &format!("reading request: {e}"),
                );
            }
        };
        // The name is borrowed from the request (no copy per request);
        // the route keeps its own for the error below.
        let (mut route, service) = self.route_named(service);
        let request = Request::from_parts(parts, body);
        let attempt = match self.config.request_timeout {
            Some(limit) => match tokio::time::timeout(limit, send(&mut route, request)).await {
                Ok(attempt) => attempt,
                Err(_) => {
                    self.recorder.timeout();
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
                    None => ProxyError::NoEndpoints(service.to_string()).to_string(),
                };
                grpc_error::response(attempt.outcome.code(), &message)
            }
        }
    }
}

/// The service name of a request (tests).
#[cfg(test)]
fn authority_service<B>(request: &Request<B>) -> Option<&str> {
    authority_of(request.uri(), request.headers())
}

/// The service name of a request, from its URI and headers: the host part
/// of its `:authority`, up to the first dot
/// (`stockdata.default.svc.cluster.local` → `stockdata`).
fn authority_of<'a>(uri: &'a http::Uri, headers: &'a http::HeaderMap) -> Option<&'a str> {
    let host = uri.host().or_else(|| {
        headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.split(':').next().unwrap_or(h))
    })?;
    host.split('.').next().filter(|s| !s.is_empty())
}

impl<C: Connect, D: Resolve> Service<Request<Incoming>> for Outbound<C, D> {
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
    fn the_route_cache_is_bounded_and_drops_the_least_recently_used() {
        let mut routes: Routes<u32> = Routes::new();
        for i in 0..MAX_ROUTES as u32 {
            routes.insert(&format!("svc{i}"), i);
        }
        // svc0 used again: svc1 is now the least recently used.
        assert_eq!(routes.get("svc0"), Some(0));
        routes.insert("new", 999);
        assert_eq!(routes.len(), MAX_ROUTES);
        assert_eq!(routes.get("svc1"), None);
        assert_eq!(routes.get("svc0"), Some(0));
        assert_eq!(routes.get("new"), Some(999));
        for i in 0..10_000u32 {
            routes.insert(&format!("flood{i}"), i);
        }
        assert_eq!(routes.len(), MAX_ROUTES);
        assert_eq!(routes.by_use.len(), MAX_ROUTES);
    }

    #[tokio::test]
    async fn a_sidecar_keeps_at_most_max_routes_however_many_authorities() {
        let outbound = Outbound::new(
            ControlPlane::new(),
            stockdata::transport::TokioConnect,
            SidecarConfig::round_robin(),
            1,
            Arc::default(),
        );
        for i in 0..(MAX_ROUTES + 100) {
            outbound.inner.route(&format!("svc{i}"));
        }
        assert_eq!(outbound.route_count(), MAX_ROUTES);
    }

    /// A resolver that is not the control plane: one fixed endpoint set.
    #[derive(Clone)]
    struct Fixed(Arc<tokio::sync::watch::Sender<Arc<Vec<crate::control::Endpoint>>>>);

    impl Resolve for Fixed {
        fn resolve(
            &self,
            _: &str,
        ) -> tokio::sync::watch::Receiver<Arc<Vec<crate::control::Endpoint>>> {
            self.0.subscribe()
        }
    }

    #[tokio::test]
    async fn a_sidecar_resolves_through_any_resolver() {
        let (tx, _) = tokio::sync::watch::channel(Arc::default());
        let outbound = Outbound::new(
            Fixed(Arc::new(tx)),
            stockdata::transport::TokioConnect,
            SidecarConfig::round_robin(),
            1,
            Arc::default(),
        );
        outbound.inner.route("svc");
        assert_eq!(outbound.route_count(), 1);
    }

    #[test]
    fn service_from_authority() {
        let req = |uri: &str| Request::builder().uri(uri).body(()).expect("request");
        assert_eq!(
            authority_service(&req("http://stockdata:50051/stockdata.v1.Stocks/Get")),
            Some("stockdata")
        );
        assert_eq!(
            authority_service(&req("http://stockdata.default.svc.cluster.local:50051/x")),
            Some("stockdata")
        );
        let with_host = Request::builder()
            .uri("/x")
            .header("host", "frontend:8080")
            .body(())
            .expect("request");
        assert_eq!(authority_service(&with_host), Some("frontend"));
        assert_eq!(authority_service(&req("/x")), None);
    }
}
