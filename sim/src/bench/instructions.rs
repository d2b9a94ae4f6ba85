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
use crate::control::Endpoint;
use crate::proxy::SidecarConfig;
use crate::proxy::balance::{Available, Balance, MakeEndpoint};
use crate::proxy::body::Buffered;
use crate::proxy::classify::{Classified, Outcome};
use crate::proxy::load::{MeasureLayer, Measured};
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
use tower::{Layer, Service};

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
        other => match other.strip_prefix("pick-").and_then(profile) {
            Some(profile) => {
                picks(profile, n);
                Ok(())
            }
            None => Err(format!("unknown operation {other:?}").into()),
        },
    }
}

/// The sidecar whose balancer a `pick-<policy>` operation measures.
fn profile(policy: &str) -> Option<SidecarConfig> {
    Some(match policy {
        "round-robin" => SidecarConfig::round_robin(),
        "random" => SidecarConfig::random(),
        "least-request" => SidecarConfig::least_request(),
        "peak-ewma" => SidecarConfig::peak_ewma(),
        "weighted" => SidecarConfig::weighted(),
        _ => return None,
    })
}

fn demo(n: u64) -> OpResult {
    let scenario = crate::scenario::Scenario::parse(
        crate::scenario::BUNDLED_DEMO,
        crate::scenario::BUNDLED_DEMO_PATH,
    )?;
    for _ in 0..n {
        let report = crate::runner::run(&scenario, scenario.seed, |_| {})?;
        black_box(report.strategies.len());
    }
    Ok(())
}

/// An endpoint that can always take a request and answers `OK` at once.
pub struct Idle;

impl Available for Idle {
    fn is_available(&self, _: Instant) -> bool {
        true
    }
}

impl Service<Request<Buffered>> for Idle {
    type Response = Classified;
    type Error = Outcome;
    type Future = Pin<Box<dyn Future<Output = Result<Classified, Outcome>> + Send>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Buffered>) -> Self::Future {
        Box::pin(std::future::ready(Ok(Classified {
            outcome: Outcome::Grpc(tonic::Code::Ok),
            response: Response::new(Buffered::empty()),
        })))
    }
}

/// A balancer configured as `config` over `count` idle endpoints whose load
/// is measured as `config` says (the balancer reads it through the load
/// layer, as in a sidecar).
pub fn idle_balance(config: SidecarConfig, count: usize) -> Balance<Measured<Idle>> {
    let endpoints: Vec<Endpoint> = (0..count)
        .map(|i| Endpoint {
            pod: format!("ep-{i}"),
            addr: SocketAddr::from(([10, 0, (i / 250) as u8, (i % 250) as u8], 50051)),
            ready: true,
        })
        .collect();
    let (_tx, rx) = watch::channel(Arc::new(endpoints));
    let measure = MeasureLayer::new(config.load);
    let make: MakeEndpoint<Measured<Idle>> = Box::new(move |_, _| measure.layer(Idle));
    Balance::from_rng(
        config.balance,
        rx,
        make,
        None,
        &mut ChaCha8Rng::seed_from_u64(1),
    )
}

/// `n` picks among [`PICK_ENDPOINTS`] idle endpoints.
fn picks(config: SidecarConfig, n: u64) {
    let mut balance = idle_balance(config, PICK_ENDPOINTS);
    for _ in 0..n {
        black_box(balance.pick(&[]));
    }
}
