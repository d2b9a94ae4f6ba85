//! Criterion benches: the balancers' pick at 10 / 100 / 1,000 endpoints,
//! the peak-EWMA update, HdrHistogram recording, and the demo scenario end
//! to end. `cargo bench -p sim`; targets are in issue #6 and
//! `meshsim bench` (a P2C pick flat from 10 to 1,000 endpoints, < 100 ns).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sim::bench::instructions::idle_balance;
use sim::proxy::SidecarConfig;
use sim::proxy::load::PeakEwma;
use std::hint::black_box;
use std::time::Duration;
use tokio::time::Instant;

fn picks(c: &mut Criterion) {
    let policies = [
        (
            "least-request",
            SidecarConfig::least_request as fn() -> SidecarConfig,
        ),
        ("peak-ewma", SidecarConfig::peak_ewma),
        ("round-robin", SidecarConfig::round_robin),
    ];
    let mut group = c.benchmark_group("balance_pick");
    for (name, policy) in policies {
        for n in [10usize, 100, 1000] {
            let mut b = idle_balance(policy(), n);
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
