//! Every client strategy end to end in the simulator.

use sim::Scenario;
use sim::scenario::{BUNDLED_DEMO, BUNDLED_DEMO_PATH};
use std::collections::BTreeMap;

fn seed(default: u64) -> u64 {
    std::env::var("MESHSIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn scenario(path: &str, strategies: &[&str]) -> Scenario {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    let mut s = Scenario::load(&file).expect("bundled scenario parses");
    s.strategies = strategies
        .iter()
        .map(|n| n.parse().expect("strategy"))
        .collect();
    s
}

fn run(s: &Scenario, seed: u64) -> reports::Report {
    sim::run(s, seed, |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

fn pinned_everywhere(r: &reports::StrategyReport) -> bool {
    r.page_loads
        .iter()
        .all(|p| p.per_replica.values().filter(|&&n| n > 0).count() == 1)
}

#[test]
fn peak_ewma_beats_round_robin_p99_with_a_10x_slower_replica() {
    let seed = seed(7);
    let s = scenario(
        "scenarios/slow-replica.toml",
        &["sidecar:round-robin", "sidecar:peak-ewma"],
    );
    assert_eq!(s.stockdata.slowdown.get("stockdata-2"), Some(&10.0));
    let report = run(&s, seed);
    let (rr, ewma) = (&report.strategies[0], &report.strategies[1]);
    assert!(
        ewma.latency_ms.p99 < rr.latency_ms.p99,
        "seed {seed}: peak-ewma p99 {} ≥ round-robin p99 {} (rerun with MESHSIM_SEED={seed})",
        ewma.latency_ms.p99,
        rr.latency_ms.p99
    );
    // Round robin gives the slow replica its third; peak-EWMA much less.
    let share =
        |r: &reports::StrategyReport| r.per_replica["stockdata-2"] as f64 / r.requests.ok as f64;
    assert!(
        (share(rr) - 1.0 / 3.0).abs() < 0.01,
        "rr share {}",
        share(rr)
    );
    assert!(share(ewma) < 0.2, "peak-ewma share {}", share(ewma));
}

#[test]
fn cached_dns_and_kube_proxy_pin_client_rr_spreads() {
    let seed = seed(3);
    let mut s = scenario(
        "scenarios/slow-replica.toml",
        &["cached-dns", "kube-proxy", "client-rr"],
    );
    s.stockdata.slowdown.clear();
    s.load.page_loads = 10;
    let report = run(&s, seed);
    for r in &report.strategies[..2] {
        assert!(pinned_everywhere(r), "{} did not pin (seed {seed})", r.name);
        assert_eq!(r.requests.ok, 1000);
    }
    let rr = &report.strategies[2];
    assert_eq!(rr.name, "client-rr");
    for page in &rr.page_loads {
        assert_eq!(
            page.per_replica.len(),
            3,
            "page {} used {:?}",
            page.index,
            page.per_replica
        );
        for n in page.per_replica.values() {
            assert!(
                (33..=34).contains(n),
                "page {}: {:?}",
                page.index,
                page.per_replica
            );
        }
    }
}

#[test]
fn kube_proxy_balances_connections_not_requests() {
    // Eight StockWeb pods, one connection each: kube-proxy spreads the
    // connections over both replicas, yet every page stays on one.
    let seed = seed(11);
    let mut s = scenario("scenarios/slow-replica.toml", &["kube-proxy"]);
    s.stockdata.slowdown.clear();
    s.stockdata.replicas = std::num::NonZeroU32::new(2).expect("2");
    s.stockweb.replicas = std::num::NonZeroU32::new(8).expect("8");
    s.load.page_loads = 16;
    let report = run(&s, seed);
    let r = &report.strategies[0];
    assert!(pinned_everywhere(r), "seed {seed}");
    let used: Vec<_> = r.per_replica.iter().filter(|(_, n)| **n > 0).collect();
    assert_eq!(
        used.len(),
        2,
        "8 connections all landed on one replica: {:?} (seed {seed})",
        r.per_replica
    );
}

#[test]
fn every_mesh_profile_runs_the_demo_and_reports_its_settings() {
    let mut s = Scenario::parse(BUNDLED_DEMO, BUNDLED_DEMO_PATH).expect("demo");
    s.strategies = ["linkerd", "istio", "consul", "linkerd+retry+accrual"]
        .iter()
        .map(|n| n.parse().expect("strategy"))
        .collect();
    let report = run(&s, seed(42));
    let by_name: BTreeMap<_, _> = report
        .strategies
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect();
    for (name, balancer, retries, outlier) in [
        (
            "linkerd",
            "peak-ewma (default_rtt 30ms, decay 10s)",
            "off",
            "off",
        ),
        (
            "istio",
            "least-request (choice_count 2)",
            "max 2 per request",
            "off",
        ),
        ("consul", "round-robin", "off", "consecutive_5xx 5"),
        (
            "linkerd+retry+accrual",
            "peak-ewma",
            "max 1 per request",
            "off",
        ),
    ] {
        let r = by_name[name];
        assert_eq!(r.requests.ok, 1000, "{name}");
        for page in &r.page_loads {
            for n in page.per_replica.values() {
                assert!(
                    (45..=55).contains(n),
                    "{name} page {}: {:?}",
                    page.index,
                    page.per_replica
                );
            }
        }
        assert!(
            r.settings["balancer"].starts_with(balancer),
            "{name}: {}",
            r.settings["balancer"]
        );
        assert!(
            r.settings["retries"].starts_with(retries),
            "{name}: {}",
            r.settings["retries"]
        );
        assert!(
            r.settings["outlier_detection"].starts_with(outlier),
            "{name}: {}",
            r.settings["outlier_detection"]
        );
        let proxy = r.proxy.as_ref().expect("sidecar metrics");
        assert_eq!(proxy.requests, 1000, "{name}");
        assert_eq!(
            proxy.attempts, 1000,
            "{name}: nothing failed, nothing retried"
        );
        assert_eq!(
            proxy.endpoints.values().map(|e| e.successes).sum::<u64>(),
            1000
        );
    }
    assert!(
        by_name["linkerd+retry+accrual"].settings["failure_accrual"].starts_with("consecutive 7")
    );
    assert!(
        by_name["linkerd+retry+accrual"].settings["retry_budget"]
            .starts_with("ratio 0.2, min 10/s, ttl 10s")
    );
    assert_eq!(by_name["istio"].settings["discovery_delay"], "100ms");
}

#[test]
fn per_try_timeouts_and_idempotent_retries_route_around_a_slow_replica() {
    use sim::scenario::SimDuration;
    use std::time::Duration;
    let seed = seed(7);
    // Istio: no concurrent-retry limit (Envoy's default of 3 would refuse
    // most of a page's simultaneous retries).
    let plain = scenario("scenarios/slow-replica.toml", &["istio"]);
    let mut hedged = plain.clone();
    hedged.sidecar.per_try_timeout = Some(SimDuration(Duration::from_millis(40)));
    hedged.sidecar.max_retries = Some(2);
    hedged.sidecar.idempotent = Some(true);
    let before = run(&plain, seed);
    let after = run(&hedged, seed);
    let (b, a) = (&before.strategies[0], &after.strategies[0]);
    assert_eq!(a.settings["per_try_timeout"], "40ms");
    assert_eq!(a.requests.ok, 4000, "{:?}", a.requests.errors);
    let proxy = a.proxy.as_ref().expect("metrics");
    let timeouts = proxy.endpoints["stockdata-2"]
        .failures
        .get("TIMEOUT")
        .copied()
        .unwrap_or(0);
    assert!(timeouts > 0, "the slow replica's tries never timed out");
    assert!(proxy.attempts > proxy.requests, "nothing was retried");
    assert!(
        a.latency_ms.max < b.latency_ms.max,
        "seed {seed}: max {} with per-try timeouts vs {} without",
        a.latency_ms.max,
        b.latency_ms.max
    );
    // The same settings under Envoy's default retry circuit breaker (3
    // concurrent retries): most of a page's simultaneous retries are refused.
    let mut breaker = hedged.clone();
    breaker.strategies = vec!["sidecar:round-robin+retry".parse().expect("strategy")];
    let c = &run(&breaker, seed).strategies[0];
    let refused = c.proxy.as_ref().expect("metrics").retries_refused;
    assert!(refused > 0, "seed {seed}: the retry breaker never refused");
    assert!(c.requests.ok < 4000, "seed {seed}: {:?}", c.requests.errors);
}

#[test]
fn a_request_timeout_fails_slow_calls_with_deadline_exceeded() {
    use sim::scenario::SimDuration;
    use std::time::Duration;
    let seed = seed(7);
    let mut s = scenario("scenarios/slow-replica.toml", &["sidecar:round-robin"]);
    s.sidecar.request_timeout = Some(SimDuration(Duration::from_millis(50)));
    s.load.page_loads = 10;
    let report = run(&s, seed);
    let r = &report.strategies[0];
    let deadline = r
        .requests
        .errors
        .get("DEADLINE_EXCEEDED")
        .copied()
        .unwrap_or(0);
    assert!(deadline > 0, "{:?}", r.requests.errors);
    assert_eq!(r.requests.ok + deadline, 1000);
    assert_eq!(r.proxy.as_ref().expect("metrics").timeouts, deadline);
    // No call the app saw took much longer than the timeout.
    assert!(r.latency_ms.max < 60.0, "max {}", r.latency_ms.max);
}

#[test]
fn least_conn_sends_a_10x_slower_replica_less_than_its_third_under_steady_arrivals() {
    // nginx's least_conn and haproxy's leastconn, modelled. Under steady
    // arrivals the slow replica holds its calls longer, has the most in
    // flight and is picked least. (A page's 100 calls at one instant find
    // every replica at the same count each time and go round robin: the
    // slow-replica scenario's pages give exactly round robin's thirds.)
    let seed = seed(7);
    let text = r#"
seed = 7
strategies = ["sidecar:round-robin", "sidecar:least-conn"]
[stockdata]
replicas = 3
concurrency = 8
service_time = { distribution = "exponential", mean = "2ms" }
slowdown = { stockdata-2 = 10.0 }
[workload]
target = "get"
model = "open"
arrival = "poisson"
rate = 1000
duration = "2s"
drain = "2s"
"#;
    let s = Scenario::parse(text, "least-conn.toml").unwrap_or_else(|e| panic!("{e}"));
    let report = run(&s, seed);
    let (rr, lc) = (&report.strategies[0], &report.strategies[1]);
    let share =
        |r: &reports::StrategyReport| r.per_replica["stockdata-2"] as f64 / r.requests.ok as f64;
    eprintln!(
        "stockdata-2 share: round-robin {:.3}, least-conn {:.3}; p99 {} / {} ms",
        share(rr),
        share(lc),
        rr.latency_ms.p99,
        lc.latency_ms.p99
    );
    assert!(
        (share(rr) - 1.0 / 3.0).abs() < 0.005,
        "seed {seed}: rr share {}",
        share(rr)
    );
    assert!(
        share(lc) < 0.2,
        "seed {seed}: least-conn share {} (rerun with MESHSIM_SEED={seed})",
        share(lc)
    );
    assert!(
        lc.latency_ms.p99 < rr.latency_ms.p99,
        "seed {seed}: least-conn p99 {} >= round-robin p99 {}",
        lc.latency_ms.p99,
        rr.latency_ms.p99
    );
    assert_eq!(lc.requests.errors.values().sum::<u64>(), 0);
}

#[test]
fn sidecars_know_every_initial_replica_from_the_load_s_first_call() {
    // A sidecar learns of endpoint changes `discovery_delay` late (Istio's
    // 100 ms debounce, Consul's 200 ms). The load must start on a settled
    // cluster: before, a sidecar whose pod started before the replicas
    // were ready sent the first 100 ms of calls to whichever replicas it
    // had seen (identical replicas split 639/638/740), or held a page
    // 99 ms for a ready endpoint when it had seen none (four nodes).
    let seed = seed(7);
    let text = r#"
seed = 7
strategies = ["sidecar:round-robin", "sidecar:random", "istio", "consul"]
[cluster]
nodes = 4
[stockdata]
replicas = 3
concurrency = 8
service_time = { distribution = "exponential", mean = "2ms" }
[workload]
target = "get"
model = "open"
arrival = "poisson"
rate = 1000
duration = "600ms"
drain = "1s"
"#;
    let s = Scenario::parse(text, "settled.toml").unwrap_or_else(|e| panic!("{e}"));
    let report = run(&s, seed);
    for r in &report.strategies {
        // Profiles with a fail-fast queue report the wait for a ready
        // endpoint; the others fail a call that finds none.
        let waited = r.waits.get("sidecar_ready").map_or(0, |w| w.waited);
        assert_eq!(
            waited, 0,
            "seed {seed}: {}: {waited} calls waited for a ready endpoint",
            r.name
        );
        assert_eq!(
            r.requests.errors.values().sum::<u64>(),
            0,
            "seed {seed}: {}",
            r.name
        );
        assert_eq!(r.per_replica.len(), 3, "seed {seed}: {}", r.name);
    }
    // Round robin over three identical replicas from the first call: an
    // exact rotation (one StockWeb pod, one sidecar).
    let rr = &report.strategies[0];
    let counts: Vec<u64> = rr.per_replica.values().copied().collect();
    let (min, max) = (counts.iter().min(), counts.iter().max());
    assert!(
        max.zip(min).is_some_and(|(max, min)| max - min <= 1),
        "seed {seed}: round robin split {counts:?}"
    );
}

#[test]
fn both_pods_are_meshed_unless_the_scenario_says_client_side_only() {
    // Every meshsim sidecar strategy puts the mesh's inbound sidecar in
    // front of each StockData pod; its waits are in the report. Client
    // side only (`[sidecar] inbound = false`) drops the hop: in the
    // simulator a loopback segment costs one tick, so the demo's median
    // call is two ticks (2 ms) faster without the inbound's two segments
    // (app and back).
    let seed = seed(42);
    let meshed = scenario(
        BUNDLED_DEMO_PATH,
        &["sidecar:round-robin", "linkerd", "istio"],
    );
    let mut client_only = meshed.clone();
    client_only.sidecar.inbound = Some(false);
    let (a, b) = (run(&meshed, seed), run(&client_only, seed));
    for (m, c) in a.strategies.iter().zip(&b.strategies) {
        let calls = m.requests.sent;
        for hop in ["inbound_connect", "inbound_streams"] {
            assert_eq!(
                m.waits.get(hop).map(|w| w.requests),
                Some(calls),
                "seed {seed}: {}: {hop}",
                m.name
            );
            assert!(!c.waits.contains_key(hop), "seed {seed}: {}: {hop}", c.name);
        }
        assert!(
            m.waits["sidecar_streams"]
                .limit
                .ends_with("to an inbound sidecar"),
            "{}",
            m.name
        );
        assert_eq!(m.requests.ok, c.requests.ok, "seed {seed}: {}", m.name);
        assert!(
            (m.latency_ms.p50 - c.latency_ms.p50 - 2.0).abs() < 0.01,
            "seed {seed}: {}: p50 meshed {} client-side {}",
            m.name,
            m.latency_ms.p50,
            c.latency_ms.p50
        );
    }
}
