//! Instruction counts: a cost measure that does not wobble.
//!
//! Why: on a shared 2-core machine wall-clock rates swing by 2× between
//! runs, so a 5 % regression is invisible in `meshsim bench`'s table.
//! Instructions retired, counted by valgrind's callgrind, repeat to about
//! 0.01 % for the same binary and inputs, whatever else the machine does.
//!
//! How: each operation runs in its own process (`meshsim bench-op OP N`)
//! under `valgrind --tool=callgrind`, once with `N` and once with `2N`
//! repetitions. The difference divided by `N` is the cost of one repetition
//! with process start-up, runtime set-up and connection handshakes
//! cancelled out, so no client requests (which would need `unsafe` FFI) are
//! needed to mark a region.
//!
//! The operations are what the proxy's design changes can move: one unary
//! request on the direct, meshed and floor paths ([`super::paths`]), one
//! balancer pick per policy over 100 endpoints, and one run of the bundled
//! demo scenario.

use super::paths;
use crate::cluster::Endpoint;
use crate::proxy::balance::{Available, Balance, BalanceConfig, MakeEndpoint, Policy};
use crate::proxy::body::Buffered;
use crate::proxy::classify::Outcome;
use crate::proxy::load::peak_ewma::{LINKERD_DECAY, LINKERD_DEFAULT_RTT};
use http::{Request, Response};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::Service;

/// Concurrent requests on the request paths.
pub const PATH_CONCURRENCY: u64 = 10;
/// Endpoints behind the balancer in the pick operations.
pub const PICK_ENDPOINTS: usize = 100;

/// One measured operation, and its repetition count `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// The name on the command line and in the table.
    pub name: &'static str,
    /// Repetitions in the smaller run (the larger runs twice as many).
    pub n: u64,
    /// What one repetition is.
    pub unit: &'static str,
}

/// Every operation, in table order.
pub const OPS: &[Op] = &[
    Op {
        name: "direct",
        n: 500,
        unit: "request",
    },
    Op {
        name: "meshed",
        n: 500,
        unit: "request",
    },
    Op {
        name: "floor",
        n: 500,
        unit: "request",
    },
    Op {
        name: "pick-round-robin",
        n: 20_000,
        unit: "pick",
    },
    Op {
        name: "pick-random",
        n: 20_000,
        unit: "pick",
    },
    Op {
        name: "pick-least-request",
        n: 20_000,
        unit: "pick",
    },
    Op {
        name: "pick-peak-ewma",
        n: 20_000,
        unit: "pick",
    },
    Op {
        name: "pick-weighted",
        n: 20_000,
        unit: "pick",
    },
    Op {
        name: "demo",
        n: 1,
        unit: "run",
    },
];

type OpResult = Result<(), Box<dyn std::error::Error>>;

/// Runs operation `name` `n` times (the body of `meshsim bench-op`).
pub fn run(name: &str, n: u64) -> OpResult {
    match name {
        "direct" => paths::grpc_direct(n, PATH_CONCURRENCY).map(drop),
        "meshed" => paths::grpc_meshed(n, PATH_CONCURRENCY).map(drop),
        "floor" => paths::grpc_bare_forwarders(n, PATH_CONCURRENCY).map(drop),
        "demo" => demo(n),
        other => match other.strip_prefix("pick-").and_then(policy) {
            Some(policy) => {
                picks(policy, n);
                Ok(())
            }
            None => Err(format!("unknown operation {other:?}").into()),
        },
    }
}

fn policy(name: &str) -> Option<Policy> {
    Some(match name {
        "round-robin" => Policy::RoundRobin,
        "random" => Policy::Random,
        "least-request" => Policy::LeastRequest { choice_count: 2 },
        "peak-ewma" => Policy::PeakEwma {
            default_rtt: LINKERD_DEFAULT_RTT,
            decay: LINKERD_DECAY,
        },
        "weighted" => Policy::Weighted,
        _ => return None,
    })
}

fn demo(n: u64) -> OpResult {
    let scenario = crate::Scenario::parse(
        crate::scenario::BUNDLED_DEMO,
        crate::scenario::BUNDLED_DEMO_PATH,
    )?;
    for _ in 0..n {
        let report = crate::run(&scenario, scenario.seed, |_| {})?;
        black_box(report.strategies.len());
    }
    Ok(())
}

/// An endpoint that can always take a request and is never called.
struct Idle;

impl Available for Idle {
    fn is_available(&self, _: Instant) -> bool {
        true
    }
}

impl Service<Request<Buffered>> for Idle {
    type Response = Response<Buffered>;
    type Error = Outcome;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Buffered>, Outcome>> + Send>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Buffered>) -> Self::Future {
        Box::pin(std::future::ready(Ok(Response::new(Buffered::empty()))))
    }
}

fn picks(policy: Policy, n: u64) {
    let endpoints: Vec<Endpoint> = (0..PICK_ENDPOINTS)
        .map(|i| Endpoint {
            pod: format!("ep-{i}"),
            addr: SocketAddr::from(([10, 0, 0, i as u8], 50051)),
            ready: true,
        })
        .collect();
    let (_tx, rx) = watch::channel(Arc::new(endpoints));
    let make: MakeEndpoint<Idle> = Box::new(|_, _| Idle);
    let config = BalanceConfig {
        policy,
        accrual: None,
        outlier: None,
        panic_threshold: None,
        weights: Default::default(),
    };
    let mut balance = Balance::from_rng(
        config,
        rx,
        make,
        Arc::default(),
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    for _ in 0..n {
        black_box(balance.pick(&[]));
    }
}
