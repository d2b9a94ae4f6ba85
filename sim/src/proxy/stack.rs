//! The sidecar's stacks, assembled in one place, in the order a request
//! passes through them.
//!
//! ```text
//! app ──HTTP/2──▶ Outbound            route by :authority, buffer the body
//!                   request timeout   whole request, all tries (SidecarConfig::request_timeout)
//!                   Retry             budget, concurrent-retry breaker, backoff
//!                   Balance           discovery, panic threshold, policy pick
//!                   ┆ per endpoint (the stack `make_endpoint` builds):
//!                   Metrics           every attempt, its outcome and latency
//!                   Measure           requests in flight, peak-EWMA (the load P2C compares)
//!                   Outlier           Envoy ejection (when on)
//!                   Accrual           Linkerd's breaker (when on)
//!                   Classify          grpc-status → Outcome, once
//!                   PerTryTimeout     (when set)
//!                   Http2Endpoint ──▶ pod: one HTTP/2 connection, kept eagerly
//!                                     (ready only while connected) or made on demand
//! ```
//!
//! Each layer is its own module with its defaults as cited constants. Layers
//! that can take an endpoint out of service answer [`Available`]
//! (super::available::Available) and the balancer asks before it picks; the load
//! layer answers tower's `Load`. A layer that is off is not in the stack
//! (`option_layer`), so it costs nothing.
//!
//! tower's own pieces: `tower::load::Load` is the balancer's load interface;
//! `tower::timeout` and `tower::load`'s measures are not used, for reasons
//! given in [`super::timeout`] and [`super::load`]. There is no
//! `tower::limit` layer: none of the modelled meshes limits outbound
//! concurrency by default, and a limit is a queue, which must only exist
//! where a scenario sets one and the report shows its wait.

use super::accrual::{Accrual, AccrualLayer};
use super::available::Available;
use super::balance::{Balance, MakeEndpoint, OnRefresh, SharedBalance};
use super::body::Buffered;
use super::classify::{Classify, ClassifyLayer, Outcome};
use super::endpoint::Http2Endpoint;
use super::load::{MeasureLayer, Measured};
use super::metrics::{Ejections, Metered, MetricsLayer, ProxyMetrics, Recorder};
use super::outlier::{Outlier, OutlierDetector, OutlierLayer};
use super::profile::SidecarConfig;
use super::retry::{Retry, RetryLayer};
use super::timeout::{PerTryTimeout, PerTryTimeoutLayer};
use crate::control::Endpoint;
use crate::sync::lock;
use http::{Request, Response};
use rand::Rng;
use std::sync::{Arc, Mutex};
use stockdata::transport::Connect;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::util::Either;
use tower::{Service, ServiceBuilder};

/// Mixed into an endpoint's seed for its failure-accrual jitter, so the
/// breaker and the connect backoff draw from different streams.
const ACCRUAL_SEED_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// What the endpoint stack needs of a connection to one endpoint (a trait
/// alias): requests in, raw responses or a failed [`Outcome`] out, and an
/// answer to [`Available`].
pub trait Connection:
    Service<
        Request<Buffered>,
        Response = Response<Buffered>,
        Error = Outcome,
        Future: Send + Unpin + 'static,
    > + Available
    + Send
    + 'static
{
}

impl<E> Connection for E where
    E: Service<
            Request<Buffered>,
            Response = Response<Buffered>,
            Error = Outcome,
            Future: Send + Unpin + 'static,
        > + Available
        + Send
        + 'static
{
}

type Timed<E> = Either<PerTryTimeout<E>, E>;
type Breaker<E> = Either<Accrual<Classify<Timed<E>>>, Classify<Timed<E>>>;
type Ejector<E> = Either<Outlier<Breaker<E>>, Breaker<E>>;

/// One endpoint's stack over its connection `E`, outermost layer first.
pub type EndpointStack<E> = Metered<Measured<Ejector<E>>>;

/// One service's route: retries over the shared balancer.
pub type Route<E> = Retry<SharedBalance<EndpointStack<E>>>;

/// Builds the connection to a discovered endpoint, given a seed for its own
/// randomness (the sidecar's is [`Http2Endpoint`]; tests pass fakes).
pub type MakeConnection<E> = Box<dyn Fn(&Endpoint, u64) -> E + Send>;

/// What one endpoint's stack needs that is shared by the route.
struct Shared {
    metrics: Arc<Mutex<ProxyMetrics>>,
    outlier: Option<Arc<Mutex<OutlierDetector>>>,
}

/// Wraps `connection` to endpoint `e` in the layers `config` turns on.
fn endpoint_stack<E>(
    config: &SidecarConfig,
    shared: &Shared,
    e: &Endpoint,
    seed: u64,
    connection: E,
) -> EndpointStack<E> {
    let ejections = Ejections::default();
    ServiceBuilder::new()
        .layer(MetricsLayer::new(
            shared.metrics.clone(),
            &e.pod,
            ejections.clone(),
        ))
        .layer(MeasureLayer::new(config.load))
        .option_layer(
            shared
                .outlier
                .clone()
                .map(|d| OutlierLayer::new(d, &e.pod, ejections.clone())),
        )
        .option_layer(
            config
                .accrual
                .map(|c| AccrualLayer::new(c, seed ^ ACCRUAL_SEED_MIX, ejections)),
        )
        .layer(ClassifyLayer)
        .option_layer(config.per_try_timeout.map(PerTryTimeoutLayer::new))
        .service(connection)
}

/// The balancer over `discovery`'s endpoints, each connection (from
/// `connect`) behind the endpoint stack `config` describes. Seeds come from
/// `rng`.
pub fn balance_with<E, R>(
    config: &SidecarConfig,
    connect: MakeConnection<E>,
    discovery: watch::Receiver<Arc<Vec<Endpoint>>>,
    metrics: Arc<Mutex<ProxyMetrics>>,
    rng: &mut R,
) -> Balance<EndpointStack<E>>
where
    E: Connection,
    R: Rng + ?Sized,
{
    let outlier = config
        .outlier
        .map(|c| Arc::new(Mutex::new(OutlierDetector::new(c, Instant::now()))));
    let on_refresh = outlier
        .clone()
        .map(|d| -> OnRefresh { Box::new(move |names: &[String]| lock(&d).retain(names)) });
    let shared = Shared { metrics, outlier };
    let endpoint_config = config.clone();
    let make: MakeEndpoint<EndpointStack<E>> = Box::new(move |e, seed| {
        endpoint_stack(&endpoint_config, &shared, e, seed, connect(e, seed))
    });
    Balance::from_rng(config.balance.clone(), discovery, make, on_refresh, rng)
}

/// The route to one service: retries over [`balance_with`]'s balancer.
pub fn route_with<E, R>(
    config: &SidecarConfig,
    connect: MakeConnection<E>,
    discovery: watch::Receiver<Arc<Vec<Endpoint>>>,
    metrics: Arc<Mutex<ProxyMetrics>>,
    rng: &mut R,
) -> Route<E>
where
    E: Connection,
    R: Rng + ?Sized,
{
    route_with_readiness(config, connect, discovery, metrics, Arc::default(), rng)
}

/// [`route_with`], its fail-fast queue woken by `ready` (which the
/// endpoints' connections notify when they connect).
pub fn route_with_readiness<E, R>(
    config: &SidecarConfig,
    connect: MakeConnection<E>,
    discovery: watch::Receiver<Arc<Vec<Endpoint>>>,
    metrics: Arc<Mutex<ProxyMetrics>>,
    ready: Arc<Notify>,
    rng: &mut R,
) -> Route<E>
where
    E: Connection,
    R: Rng + ?Sized,
{
    let balance =
        balance_with(config, connect, discovery, metrics.clone(), rng).with_readiness(ready);
    ServiceBuilder::new()
        .layer(
            RetryLayer::new(config.retry, rng.random(), metrics.clone())
                .with_redispatch(config.redispatch_unsent),
        )
        .service(
            SharedBalance::new(balance)
                .recording(metrics)
                .watching_discovery(),
        )
}

/// The sidecar's route to one service over HTTP/2 connections.
pub fn route<C: Connect, R: Rng + ?Sized>(
    config: &SidecarConfig,
    connect: C,
    discovery: watch::Receiver<Arc<Vec<Endpoint>>>,
    metrics: Arc<Mutex<ProxyMetrics>>,
    rng: &mut R,
) -> Route<Http2Endpoint<C>> {
    let (connect_config, h2) = (config.connect, config.h2);
    let waits = Recorder::new(metrics.clone());
    let ready = Arc::new(Notify::new());
    let notify = ready.clone();
    let make: MakeConnection<Http2Endpoint<C>> = Box::new(move |e, seed| {
        Http2Endpoint::new(
            e.addr,
            connect.clone(),
            (connect_config, &h2),
            seed,
            waits.clone(),
            notify.clone(),
        )
    });
    route_with_readiness(config, make, discovery, metrics, ready, rng)
}
