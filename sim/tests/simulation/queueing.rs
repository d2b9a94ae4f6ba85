//! Queueing theory as an oracle for the replica model and the load
//! generator: Poisson arrivals (`loadgen::arrivals`) into one StockData
//! replica (`StockDataService`, FIFO worker slots, exponential service
//! times) must give the textbook mean sojourn time.
//!
//! Why not through the whole simulator: the answer needs ~10⁵–10⁶ requests,
//! and the simulator steps every tick; at the 1 ms tick (the floor, see
//! scenarios/README.md) with service times far above a tick that is tens of
//! millions of steps. Here tokio's paused clock jumps straight to the next
//! event, and time is scaled up (mean service 10 s) so tokio's 1 ms timer
//! resolution is negligible (< 10⁻⁴ relative). The network adds a constant
//! per-call transport delay on top of what is validated here.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use stockdata::pb::GetRequest;
use stockdata::pb::stocks_server::Stocks;
use stockdata::{ReplicaConfig, ServiceTime, StockDataService};

/// Mean sojourn time (queueing + service) of `n`-ish Poisson arrivals at
/// `lambda` into `c` workers with exponential service of mean `1/mu`.
async fn simulate(lambda: f64, mu: f64, c: usize, requests: usize, seed: u64) -> (f64, usize) {
    simulate_with(
        lambda,
        ServiceTime::Exponential {
            mean: Duration::from_secs_f64(1.0 / mu),
        },
        c,
        requests,
        seed,
    )
    .await
}

async fn simulate_with(
    lambda: f64,
    service_time: ServiceTime,
    c: usize,
    requests: usize,
    seed: u64,
) -> (f64, usize) {
    let replica = StockDataService::new(ReplicaConfig {
        pod: "stockdata-0".into(),
        service_time,
        concurrency: c,
        // Independent streams for service and arrivals: sharing one stream
        // correlates gaps with service times (it cut M/M/1 waits by 19 %).
        seed: sim::seed::derive_seed(seed, "service"),
        demand_seed: 0,
        honor_cancellation: true,
        queue_bound: None,
        slowdown: 1.0,
        load_reports: false,
    })
    .expect("replica");
    let duration = Duration::from_secs_f64(requests as f64 / lambda);
    let arrivals = loadgen::arrivals(
        loadgen::Process::Poisson,
        lambda,
        duration,
        sim::seed::derive_seed(seed, "arrivals"),
    );
    let sum = Arc::new(Mutex::new((0.0f64, 0usize)));
    let t0 = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for at in &arrivals {
        tokio::time::sleep_until(t0 + *at).await;
        let (replica, sum) = (replica.clone(), sum.clone());
        tasks.spawn(async move {
            let start = tokio::time::Instant::now();
            replica
                .get(tonic::Request::new(GetRequest { id: 2 }))
                .await
                .expect("ok");
            let mut s = sum.lock().expect("lock");
            let e = start.elapsed().as_secs_f64();
            s.0 += e;
            s.1 += 1;
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let (total, n) = *sum.lock().expect("lock");
    (total / n as f64, n)
}

/// Erlang C: probability that an arrival waits, c servers, offered load a.
fn erlang_c(c: usize, a: f64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / k as f64;
        sum += term;
    }
    let top = term * a / c as f64 * (c as f64 / (c as f64 - a));
    top / (sum + top)
}

fn assert_within(measured: f64, expected: f64, tolerance: f64, what: &str) {
    let rel = (measured - expected).abs() / expected;
    println!(
        "{what}: measured {measured:.4} s, theory {expected:.4} s ({:+.2}%)",
        (measured / expected - 1.0) * 100.0
    );
    assert!(
        rel <= tolerance,
        "{what}: measured {measured:.4} s, theory {expected:.4} s, off by {:.2}% (> {:.0}%)",
        rel * 100.0,
        tolerance * 100.0
    );
}

const MU: f64 = 0.1; // mean service 10 s (scaled time)

#[tokio::test(start_paused = true)]
async fn mm1_at_half_load_matches_one_over_mu_minus_lambda() {
    let lambda = 0.5 * MU;
    let (w, n) = simulate(lambda, MU, 1, 200_000, 1).await;
    assert!(n > 190_000);
    assert_within(w, 1.0 / (MU - lambda), 0.03, "M/M/1 rho=0.5");
}

#[tokio::test(start_paused = true)]
async fn mm1_at_eight_tenths_load_matches_one_over_mu_minus_lambda() {
    let lambda = 0.8 * MU;
    let (w, n) = simulate(lambda, MU, 1, 400_000, 2).await;
    assert!(n > 390_000);
    assert_within(w, 1.0 / (MU - lambda), 0.03, "M/M/1 rho=0.8");
}

#[tokio::test(start_paused = true)]
async fn mm4_matches_erlang_c() {
    let c = 4;
    let lambda = 0.8 * c as f64 * MU;
    let (w, _) = simulate(lambda, MU, c, 400_000, 3).await;
    let a = lambda / MU;
    let expected = erlang_c(c, a) / (c as f64 * MU - lambda) + 1.0 / MU;
    assert_within(w, expected, 0.03, "M/M/4 rho=0.8");
}

#[test]
fn erlang_c_known_values() {
    // c = 1 reduces to rho; a textbook value for c = 2, a = 1: 1/3.
    assert!((erlang_c(1, 0.5) - 0.5).abs() < 1e-12);
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
}

/// Same runs, seeds 10..15: the tolerance is not a lucky seed.
#[tokio::test(start_paused = true)]
async fn mm1_is_within_tolerance_across_seeds() {
    for seed in 10..15 {
        let lambda = 0.5 * MU;
        let (w, _) = simulate(lambda, MU, 1, 200_000, seed).await;
        assert_within(
            w,
            1.0 / (MU - lambda),
            0.03,
            &format!("M/M/1 rho=0.5 seed {seed}"),
        );
    }
}
