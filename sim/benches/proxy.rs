//! Criterion benches: the balancers' pick at 10 / 100 / 1,000 endpoints,
//! the peak-EWMA update, HdrHistogram recording, and the demo scenario end
//! to end. `cargo bench -p sim`; targets are in issue #6 and
//! `meshsim bench` (a P2C pick flat from 10 to 1,000 endpoints, < 100 ns).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim::cluster::Endpoint;
use sim::proxy::balance::{Available, Balance, BalanceConfig, MakeEndpoint, Policy};
use sim::proxy::body::Buffered;
use sim::proxy::classify::Outcome;
use sim::proxy::load::PeakEwma;
use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::Service;

/// An endpoint that is always available and never called.
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

fn balance(policy: Policy, n: usize) -> Balance<Idle> {
    let endpoints: Vec<Endpoint> = (0..n)
        .map(|i| Endpoint {
            pod: format!("ep-{i}"),
            addr: SocketAddr::from(([10, 0, (i / 250) as u8, (i % 250) as u8], 50051)),
            ready: true,
        })
        .collect();
    let (tx, rx) = watch::channel(Arc::new(endpoints));
    std::mem::forget(tx);
    let make: MakeEndpoint<Idle> = Box::new(|_, _| Idle);
    let config = BalanceConfig {
        policy,
        accrual: None,
        outlier: None,
        panic_threshold: None,
        weights: Default::default(),
    };
    Balance::from_rng(
        config,
        rx,
        make,
        Arc::default(),
        &mut ChaCha8Rng::seed_from_u64(1),
    )
}

fn picks(c: &mut Criterion) {
    let policies = [
        ("least-request", Policy::LeastRequest { choice_count: 2 }),
        (
            "peak-ewma",
            Policy::PeakEwma {
                default_rtt: Duration::from_millis(30),
                decay: Duration::from_secs(10),
            },
        ),
        ("round-robin", Policy::RoundRobin),
    ];
    let mut group = c.benchmark_group("balance_pick");
    for (name, policy) in policies {
        for n in [10usize, 100, 1000] {
            let mut b = balance(policy, n);
            group.bench_with_input(BenchmarkId::new(name, n), &n, |bench, _| {
                bench.iter(|| black_box(b.pick(&[])))
            });
        }
    }
    group.finish();
}

fn ewma(c: &mut Criterion) {
    let start = Instant::now();
    let mut e = PeakEwma::new(Duration::from_millis(30), Duration::from_secs(10), start);
    let mut t = start;
    c.bench_function("peak_ewma_observe_and_cost", |bench| {
        bench.iter(|| {
            t += Duration::from_micros(250);
            e.observe(black_box(Duration::from_millis(12)), t);
            black_box(e.cost(3, t))
        })
    });
}

fn hdr(c: &mut Criterion) {
    let mut rec = loadgen::LatencyRecorder::new();
    let mut v = 0u64;
    c.bench_function("hdrhistogram_record", |bench| {
        bench.iter(|| {
            v = (v + 7919) % 5_000_000;
            rec.record_us(black_box(v + 1));
        })
    });
}

fn demo(c: &mut Criterion) {
    let scenario = sim::Scenario::parse(
        sim::scenario::BUNDLED_DEMO,
        sim::scenario::BUNDLED_DEMO_PATH,
    )
    .expect("bundled demo parses");
    let mut group = c.benchmark_group("scenario");
    group.sample_size(10);
    group.bench_function("stockweb_demo_end_to_end", |bench| {
        bench.iter(|| {
            let report = sim::run(&scenario, 42, |_| {}).expect("runs");
            black_box(report.strategies.len())
        })
    });
    group.finish();
}

criterion_group!(benches, picks, ewma, hdr, demo);
criterion_main!(benches);
