//! The seed's demo, end to end in the simulator: cached DNS pins, a sidecar
//! spreads, and the same seed gives the same bytes.

use sim::scenario::{BUNDLED_DEMO, BUNDLED_DEMO_PATH, SimDuration};
use sim::{Scenario, Strategy};
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

fn demo() -> Scenario {
    Scenario::parse(BUNDLED_DEMO, BUNDLED_DEMO_PATH).expect("bundled demo parses")
}

/// The seed to use: `MESHSIM_SEED` if set, else `default`.
fn seed(default: u64) -> u64 {
    std::env::var("MESHSIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn strategy(name: &str) -> Strategy {
    name.parse().expect("known strategy")
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero")
}

/// Runs with every page load kept in the report (these tests read them).
fn run(scenario: &Scenario, seed: u64) -> reports::Report {
    let mut scenario = scenario.clone();
    scenario.report.page_detail = true;
    sim::run(&scenario, seed, |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

/// The single replica that served all of a page's ok calls, if there is one.
fn only_replica(per_replica: &BTreeMap<String, u64>) -> Option<&str> {
    let used: Vec<_> = per_replica.iter().filter(|(_, n)| **n > 0).collect();
    match used.as_slice() {
        [(pod, _)] => Some(pod.as_str()),
        _ => None,
    }
}

#[test]
fn cached_dns_sends_every_call_of_a_page_to_one_replica() {
    let seed = seed(42);
    let mut scenario = demo();
    scenario.strategies = vec![strategy("cached-dns")];
    let report = run(&scenario, seed);
    let s = &report.strategies[0];
    assert_eq!(s.page_loads.len(), 10, "seed {seed}");
    for page in &s.page_loads {
        assert_eq!(
            page.per_replica.values().sum::<u64>(),
            100,
            "page {} seed {seed}",
            page.index
        );
        assert!(
            only_replica(&page.per_replica).is_some(),
            "page {}: {:?} (seed {seed})",
            page.index,
            page.per_replica
        );
    }
    // One StockWeb pod resolved once: the whole run stays on one replica.
    assert_eq!(
        s.per_replica.values().filter(|n| **n > 0).count(),
        1,
        "seed {seed}"
    );
    assert_eq!((s.requests.sent, s.requests.ok), (1000, 1000));
}

#[test]
fn cached_dns_pins_each_stockweb_pod_to_the_replica_dns_named_first() {
    // Three StockWeb pods, each with its own client, resolving once on its
    // first page load; DNS rotates its answer per query. Pod j's first query
    // is the j-th, so pod j pins to replica j mod 2 for all its page loads.
    let seed = seed(7);
    let mut scenario = demo();
    scenario.strategies = vec![strategy("cached-dns")];
    scenario.stockweb.replicas = nz(3);
    let report = run(&scenario, seed);
    let pages = &report.strategies[0].page_loads;
    assert_eq!(pages.len(), 10);
    for page in pages {
        let web = page.index % 3;
        assert_eq!(page.stockweb_pod, format!("stockweb-{web}"));
        let expected = format!("stockdata-{}", web % 2);
        assert_eq!(
            only_replica(&page.per_replica),
            Some(expected.as_str()),
            "page {} (seed {seed})",
            page.index
        );
    }
}

#[test]
fn cached_dns_with_a_short_handler_lifetime_rotates_per_page_load() {
    // A handler that expires between page loads re-resolves every time: the
    // page still pins, but successive pages walk the DNS rotation.
    let seed = seed(11);
    let mut scenario = demo();
    scenario.strategies = vec![strategy("cached-dns")];
    scenario.stockdata.replicas = nz(3);
    scenario.stockweb.handler_lifetime = Some(SimDuration(Duration::from_millis(50)));
    let report = run(&scenario, seed);
    let served: Vec<_> = report.strategies[0]
        .page_loads
        .iter()
        .map(|p| only_replica(&p.per_replica).map(str::to_string))
        .collect();
    let expected: Vec<_> = (0..10)
        .map(|k| Some(format!("stockdata-{}", k % 3)))
        .collect();
    assert_eq!(served, expected, "seed {seed}");
}

#[test]
fn sidecar_round_robin_splits_each_page_evenly() {
    for replicas in [2u32, 3] {
        let seed = seed(42);
        let mut scenario = demo();
        scenario.strategies = vec![strategy("sidecar")];
        scenario.stockdata.replicas = nz(replicas);
        let report = run(&scenario, seed);
        let s = &report.strategies[0];
        assert_eq!(s.name, "sidecar:round-robin");
        assert_eq!((s.requests.sent, s.requests.ok), (1000, 1000));
        let fair = 100.0 / f64::from(replicas);
        for page in &s.page_loads {
            assert_eq!(
                page.per_replica.len(),
                replicas as usize,
                "page {}",
                page.index
            );
            for (pod, n) in &page.per_replica {
                assert!(
                    (*n as f64 - fair).abs() <= 1.0,
                    "{replicas} replicas, page {}: {pod} served {n} (seed {seed})",
                    page.index
                );
            }
        }
    }
}

#[test]
fn sidecar_lowers_latency_when_cached_dns_overloads_one_replica() {
    // Not a tuned number: with half the queue per replica, the sidecar's
    // median must beat cached DNS's for the same seed and arrivals.
    let seed = seed(42);
    let report = run(&demo(), seed);
    let (dns, sidecar) = (&report.strategies[0], &report.strategies[1]);
    assert!(
        sidecar.latency_ms.p50 < dns.latency_ms.p50,
        "seed {seed}: {:?} vs {:?}",
        sidecar.latency_ms,
        dns.latency_ms
    );
}

#[test]
fn same_seed_same_bytes() {
    let scenario = demo();
    let a = run(&scenario, seed(42)).to_json_bytes().expect("json");
    let b = run(&scenario, seed(42)).to_json_bytes().expect("json");
    assert!(a == b, "two runs with seed {} differ", seed(42));
}

#[test]
fn seeds_one_to_five_are_each_deterministic() {
    let mut scenario = demo();
    // Exponential service times make the seed matter for latencies.
    scenario.load.page_loads = 4;
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 1..=5u64 {
        let a = run(&scenario, seed).to_json_bytes().expect("json");
        let b = run(&scenario, seed).to_json_bytes().expect("json");
        assert!(
            a == b,
            "seed {seed} is not deterministic (rerun with MESHSIM_SEED={seed})"
        );
        let report = reports::Report::from_json_slice(&a).expect("parses");
        assert_eq!(report.seed, seed);
        distinct.insert(a);
    }
    // The seed reaches the run: five seeds, five different reports.
    assert_eq!(distinct.len(), 5);
}

#[test]
fn report_records_seed_hash_and_version() {
    let scenario = demo();
    let report = sim::run(&scenario, 3, |_| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.schema_version, reports::SCHEMA_VERSION);
    assert_eq!(report.meshsim_version, sim::VERSION);
    assert_eq!(report.seed, 3);
    assert_eq!(report.scenario.name, "stockweb-demo");
    assert_eq!(report.scenario.hash, scenario.hash());
    assert_eq!(report.scenario.hash.len(), 64);
    let names: Vec<_> = report.strategies.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["cached-dns", "sidecar:round-robin"]);
}
