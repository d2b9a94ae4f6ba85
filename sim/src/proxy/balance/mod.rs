//! The balancer: one service's endpoint set, and a policy that picks.
//!
//! For each request it (1) applies any endpoint-set change discovery has
//! delivered, (2) keeps the endpoints that may take traffic now (each
//! endpoint's stack answers [`Available`]: not in connect backoff, not
//! tripped by failure accrual, not ejected by outlier detection; or all of
//! them in Envoy's panic mode), (3) lets the policy pick one, comparing
//! loads through tower's [`Load`], and (4) sends the request down that
//! endpoint's stack. Everything that happens to the attempt after the pick
//! (load measurement, breakers, ejection, per-try timeout, metrics) is a
//! layer of the endpoint stack, assembled in [`super::stack`].
//!
//! Policies, one per module: [`round_robin`], [`random`], [`p2c`] (least
//! request or peak-EWMA, by the endpoint's measured load),
//! [`weighted_random`], [`wrr`], [`least_conn`]; each is registered by one line of the
//! [`policies!`](policy) invocation below, which is all the balancer,
//! the settings, the profiles and strategy parsing read ([`policy`] says
//! how). Every random choice comes from the balancer's own seeded RNG
//! ([`Balance::from_rng`]).

pub mod least_conn;
pub mod p2c;
pub mod policy;
pub mod random;
pub mod round_robin;
pub mod weighted_random;
pub mod wrr;

mod balancer;
mod shared;

pub use balancer::{AttemptFuture, Balance};
pub use policy::{Named, named, names};
pub use shared::{MAX_REPICKS, Repick, SharedBalance, SharedFuture, send};

pub use super::available::Available;

use super::body::Buffered;
use super::classify::{Classified, Outcome};
use crate::control::Endpoint;
use http::{Request, Response};
use std::collections::BTreeMap;
use tower::Service;
use tower::load::Load;

// === the policies ===

policy::policies! {
    /// [`round_robin`].
    RoundRobin => round_robin::RoundRobin,
    /// [`random`].
    Random => random::Random,
    /// [`p2c`] over the endpoints' load (requests in flight for Envoy's
    /// `LEAST_REQUEST`, peak-EWMA cost for Linkerd: whichever the endpoint
    /// stack measures).
    P2c {
        /// Random candidates compared per pick.
        choice_count: u32,
    } => p2c::P2c,
    /// [`weighted_random`] by per-pod weight.
    Weighted => weighted_random::Weighted,
    /// [`wrr`]: weighted round robin by each endpoint's load-reported
    /// weight (its load), rebuilt every `update_period`.
    Wrr {
        /// gRFC A58 `weight_update_period`.
        update_period: std::time::Duration,
    } => wrr::Wrr,
    /// [`least_conn`]: the fewest requests in flight, ties in turn (nginx
    /// `least_conn`, haproxy `leastconn`).
    LeastConn => least_conn::LeastConn,
}

/// Candidates at positions 0.. with these loads and weight 1 (for the
/// policies' unit tests).
#[cfg(test)]
pub(crate) fn candidates_with_loads(loads: &[f64]) -> Vec<Candidate> {
    loads
        .iter()
        .enumerate()
        .map(|(index, &load)| Candidate {
            index,
            load,
            weight: 1,
        })
        .collect()
}

/// What a policy sees of one available endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Index into the balancer's endpoint list.
    pub index: usize,
    /// The endpoint's load (read only for load-aware policies; 0 otherwise).
    pub load: f64,
    /// The endpoint's weight.
    pub weight: u32,
}

/// What the balancer needs of an endpoint's stack (a trait alias).
pub trait EndpointService:
    Service<
        Request<Buffered>,
        Response = Classified,
        Error = Outcome,
        Future: Send + Unpin + 'static,
    > + Available
    + Load<Metric = f64>
    + Send
    + 'static
{
}

impl<S> EndpointService for S where
    S: Service<
            Request<Buffered>,
            Response = Classified,
            Error = Outcome,
            Future: Send + Unpin + 'static,
        > + Available
        + Load<Metric = f64>
        + Send
        + 'static
{
}

/// Request extension: endpoints earlier attempts of this request went to
/// (Envoy's `previous_hosts` retry predicate avoids them when it can).
#[derive(Debug, Clone, Default)]
pub struct PreviousHosts(pub Vec<String>);

/// Request extension: this attempt is a retry (for metrics).
#[derive(Debug, Clone, Copy)]
pub struct IsRetry;

/// The result of one attempt through the balancer.
#[derive(Debug)]
pub struct Attempt {
    /// The endpoint picked, if any was available (its name, shared with
    /// the balancer: no copy per request).
    pub endpoint: Option<std::sync::Arc<str>>,
    /// How it went.
    pub outcome: Outcome,
    /// The endpoint's response, when there was one.
    pub response: Option<Response<Buffered>>,
}

/// Builds the stack for a discovered endpoint; the `u64` is a seed for the
/// endpoint's own randomness.
pub type MakeEndpoint<S> = Box<dyn Fn(&Endpoint, u64) -> S + Send>;

/// Told the endpoint names after each change of the set (outlier detection
/// keeps per-host state for exactly these).
pub type OnRefresh = Box<dyn FnMut(&[String]) + Send>;

/// What a request does when the balancer has no available endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEndpoint {
    /// Fail at once (Envoy: "no healthy upstream", HTTP 503).
    Fail,
    /// Linkerd's balancer queue: wait up to this long for an endpoint to
    /// become ready; when the timer fires, the queued requests fail and the
    /// balancer sheds load (fails new requests at once) until an endpoint
    /// is ready again (linkerd2-proxy `linkerd/proxy/balance/queue/src/`
    /// `worker.rs` and `failfast.rs`; 3 s outbound, 1 s inbound,
    /// `linkerd/app/src/env.rs`). The wait is reported as its own queue
    /// ("a ready endpoint").
    FailFast(std::time::Duration),
}

/// Balancer settings.
#[derive(Debug, Clone)]
pub struct BalanceConfig {
    /// The policy.
    pub policy: Policy,
    /// Envoy's healthy panic threshold (percent); `None` fails fast when
    /// no endpoint is available (Linkerd).
    pub panic_threshold: Option<f64>,
    /// What a request does when no endpoint is available.
    pub no_endpoint: NoEndpoint,
    /// Weights by pod name (default 1).
    pub weights: BTreeMap<String, u32>,
}
