//! Each timeline event changes the run as it should. Small scenarios, one
//! event each; times are ms of simulated time.

use reports::{PageLoad, Report, StrategyReport};

/// Runs with every page load kept in the report (the tests read them).
fn run(toml: &str) -> Report {
    let mut scenario =
        sim::Scenario::parse(toml, "timeline-test.toml").unwrap_or_else(|e| panic!("{e}"));
    scenario.report.page_detail = true;
    sim::run(&scenario, scenario.seed, |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

fn strategy<'a>(r: &'a Report, name: &str) -> &'a StrategyReport {
    r.strategies
        .iter()
        .find(|s| s.name == name)
        .expect("strategy in report")
}

fn pages_in(s: &StrategyReport, from_ms: f64, to_ms: f64) -> Vec<&PageLoad> {
    s.page_loads
        .iter()
        .filter(|p| p.start_ms >= from_ms && p.start_ms < to_ms)
        .collect()
}

fn ok(p: &PageLoad) -> u64 {
    p.per_replica.values().sum()
}

const BASE: &str = r#"
seed = 4
[stockdata]
replicas = 2
service_time = { distribution = "constant", value = "2ms" }
[load]
page_loads = 20
interval = "100ms"
"#;

#[test]
fn kill_pod_fails_the_pinned_client_until_the_pod_restarts() {
    let r = run(&format!(
        r#"strategies = ["cached-dns", "sidecar"]
{BASE}
[[timeline]]
at = "500ms"
kind = "kill-pod"
pod = "stockdata-0"
duration = "500ms"
ready_after = "100ms"
"#
    ));
    let dns = strategy(&r, "cached-dns");
    assert!(pages_in(dns, 0.0, 500.0).iter().all(|p| ok(p) == 100));
    assert!(
        pages_in(dns, 500.0, 700.0)
            .iter()
            .all(|p| p.errors.get("UNAVAILABLE") == Some(&100))
    );
    // Later calls wait in tonic's reconnect until the pod is back at 1 s:
    // none succeeds while it is dead.
    for p in pages_in(dns, 500.0, 1000.0) {
        assert!(
            ok(p) == 0 || p.start_ms + p.duration_ms >= 1000.0,
            "page {} served by a dead pod",
            p.index
        );
    }
    assert!(
        pages_in(dns, 1100.0, 9e9)
            .iter()
            .all(|p| p.per_replica.get("stockdata-0") == Some(&100))
    );
    // The sidecar loses at most the calls in flight at the kill.
    let side = strategy(&r, "sidecar:round-robin");
    assert!(
        side.requests.errors.values().sum::<u64>() <= 50,
        "{:?}",
        side.requests.errors
    );
    assert!(
        pages_in(side, 700.0, 1000.0)
            .iter()
            .all(|p| p.per_replica.get("stockdata-1") == Some(&100))
    );
    // After the restart and readiness delay it is balanced again.
    assert!(
        pages_in(side, 1300.0, 9e9)
            .iter()
            .all(|p| p.per_replica.len() == 2)
    );
    assert_eq!(r.timeline.len(), 1);
    assert_eq!(r.timeline[0].at_ms, 500.0);
}

#[test]
fn crash_node_blackholes_until_detected_then_traffic_moves() {
    let r = run(&format!(
        r#"strategies = ["sidecar"]
{BASE}
[sidecar]
request_timeout = "200ms"
[[timeline]]
at = "500ms"
kind = "crash-node"
node = "node-1"
detect_after = "300ms"
duration = "700ms"
"#
    ));
    let s = strategy(&r, "sidecar:round-robin");
    // stockdata-0 lives on node-1. Its pods' sockets close with the node,
    // so the sidecar's connection to it ends at once; the sidecar picks
    // only connected endpoints, and its reconnects hang on the silent node
    // in the background (before endpoint readiness, each call to it
    // reconnected itself and timed out: 100+ DEADLINE_EXCEEDED).
    let during = pages_in(s, 500.0, 800.0);
    assert!(!during.is_empty());
    assert!(
        during
            .iter()
            .all(|p| p.errors.is_empty() && p.per_replica.get("stockdata-1") == Some(&100)),
        "{during:?}"
    );
    // Detected at 800 ms, delivered to the sidecar 100 ms later.
    assert!(
        pages_in(s, 1000.0, 1200.0)
            .iter()
            .all(|p| p.per_replica.get("stockdata-1") == Some(&100))
    );
    assert!(
        pages_in(s, 1500.0, 9e9)
            .iter()
            .all(|p| p.per_replica.len() == 2),
        "node restarted"
    );
}

#[test]
fn slow_moves_peak_ewma_traffic_only_during_the_window() {
    let r = run(r#"strategies = ["sidecar:peak-ewma"]
seed = 6
[stockdata]
replicas = 3
service_time = { distribution = "constant", value = "3ms" }
[load]
page_loads = 300
interval = "100ms"
[[timeline]]
at = "1500ms"
kind = "slow"
pod = "stockdata-2"
factor = 10.0
duration = "1s"
"#);
    let s = strategy(&r, "sidecar:peak-ewma");
    let share = |from, to| {
        let pages = pages_in(s, from, to);
        let slow: u64 = pages
            .iter()
            .map(|p| p.per_replica.get("stockdata-2").copied().unwrap_or(0))
            .sum();
        slow as f64 / (100 * pages.len()) as f64
    };
    // Peak-EWMA leaves fast and returns cautiously: the slow estimate
    // decays with Linkerd's 10 s time constant.
    let (before, during, soon, late) = (
        share(500.0, 1500.0),
        share(1700.0, 2500.0),
        share(3000.0, 6000.0),
        share(25_000.0, 30_000.0),
    );
    assert!(before > 0.25, "before {before}");
    assert!(during < 0.15, "during {during}");
    assert!(soon < before, "soon after {soon}");
    assert!(late > 0.25, "20 s later {late}");
}

#[test]
fn pause_shows_in_corrected_latency_not_in_uncorrected() {
    // Coordinated omission: a constant-rate open loop with one connection
    // (wrk2 -c1) against a replica that stalls for 1 s.
    let r = run(r#"strategies = ["cached-dns"]
seed = 8
[stockdata]
replicas = 1
concurrency = 1
service_time = { distribution = "constant", value = "2ms" }
[workload]
target = "get"
model = "open"
arrival = "constant"
rate = 100
connections = 1
duration = "4s"
[[timeline]]
at = "1s"
kind = "pause"
pod = "stockdata-0"
duration = "1s"
"#);
    let w = strategy(&r, "cached-dns")
        .workload
        .as_ref()
        .expect("workload");
    assert_eq!(w.issued, 400);
    assert_eq!(w.completed, 400);
    // Corrected: every request due during the stall waited for it, so the
    // stall dominates the tail (about a quarter of requests are slow).
    assert!(
        w.latency_ms.p90 > 500.0,
        "corrected p90 {}",
        w.latency_ms.p90
    );
    assert!(
        w.latency_ms.p99 > 900.0,
        "corrected p99 {}",
        w.latency_ms.p99
    );
    // Uncorrected: one slow sample of ~1 s; everything else looks fast.
    assert!(
        w.latency_uncorrected_ms.p99 < 50.0,
        "uncorrected p99 {}",
        w.latency_uncorrected_ms.p99
    );
    assert!(
        w.latency_uncorrected_ms.max >= 990.0,
        "uncorrected max {}",
        w.latency_uncorrected_ms.max
    );
}

#[test]
fn latency_event_slows_calls_to_that_node_during_the_window() {
    let r = run(&format!(
        r#"strategies = ["cached-dns"]
{BASE}
[[timeline]]
at = "500ms"
kind = "latency"
nodes = ["node-1"]
add = "50ms"
duration = "500ms"
"#
    ));
    let s = strategy(&r, "cached-dns");
    let p50 = |from, to| {
        pages_in(s, from, to)
            .iter()
            .map(|p| p.latency_ms.p50)
            .fold(0.0, f64::max)
    };
    assert!(p50(0.0, 500.0) < 40.0, "before {}", p50(0.0, 500.0));
    assert!(
        pages_in(s, 600.0, 1000.0)
            .iter()
            .all(|p| p.latency_ms.p50 >= 100.0),
        "one extra RTT of 100 ms"
    );
    assert!(p50(1100.0, 9e9) < 40.0, "after {}", p50(1100.0, 9e9));
}

#[test]
fn partition_stalls_calls_across_it_and_heal_releases_them() {
    let r = run(&format!(
        r#"strategies = ["cached-dns"]
{BASE}
[[timeline]]
at = "500ms"
kind = "partition"
nodes = ["node-1"]
from = ["node-0"]
[[timeline]]
at = "900ms"
kind = "heal"
nodes = ["node-1"]
from = ["node-0"]
"#
    ));
    let s = strategy(&r, "cached-dns");
    // Pages during the partition complete only after the heal, all OK.
    for p in pages_in(s, 500.0, 900.0) {
        assert_eq!(ok(p), 100);
        assert!(
            p.start_ms + p.duration_ms >= 900.0,
            "page {} finished before the heal",
            p.index
        );
    }
    // Once the backlog released at the heal (five pages' calls) has
    // drained, pages are fast again.
    assert!(
        pages_in(s, 1100.0, 9e9)
            .iter()
            .all(|p| p.duration_ms < 50.0)
    );
    assert_eq!(
        r.timeline
            .iter()
            .map(|t| t.event.as_str())
            .collect::<Vec<_>>(),
        [
            "partition nodes=node-1 from=node-0",
            "heal nodes=node-1 from=node-0"
        ]
    );
}

#[test]
fn scale_out_reaches_sidecars_after_readiness_and_discovery_never_cached_dns() {
    let r = run(&format!(
        r#"strategies = ["cached-dns", "sidecar"]
{BASE}
[[timeline]]
at = "500ms"
kind = "scale"
service = "stockdata"
replicas = 4
ready_after = "200ms"
"#
    ));
    let dns = strategy(&r, "cached-dns");
    assert_eq!(dns.per_replica.get("stockdata-2"), Some(&0));
    assert_eq!(dns.per_replica.get("stockdata-3"), Some(&0));
    let s = strategy(&r, "sidecar:round-robin");
    // Ready at 700 ms; the sidecar hears of it 100 ms later.
    assert!(
        pages_in(s, 0.0, 800.0)
            .iter()
            .all(|p| p.per_replica.len() == 2)
    );
    // A new endpoint takes traffic once its connection is up: the page
    // sent as discovery delivers them sees the first that connected.
    assert!(
        pages_in(s, 800.0, 850.0)
            .iter()
            .all(|p| p.per_replica.len() >= 3)
    );
    assert!(
        pages_in(s, 850.0, 9e9)
            .iter()
            .all(|p| p.per_replica.len() == 4 && p.per_replica.values().all(|n| *n == 25))
    );
}

#[test]
fn rolling_restart_replaces_every_pod_without_errors_through_a_sidecar() {
    let r = run(&format!(
        r#"strategies = ["sidecar"]
{BASE}
[[timeline]]
at = "300ms"
kind = "rolling-restart"
service = "stockdata"
ready_after = "200ms"
grace = "100ms"
"#
    ));
    let s = strategy(&r, "sidecar:round-robin");
    assert!(s.requests.errors.is_empty(), "{:?}", s.requests.errors);
    // Both old pods are gone by 300 + 2 × 200 ms (+ grace, + discovery).
    for p in pages_in(s, 1000.0, 9e9) {
        let pods: Vec<&String> = p.per_replica.keys().collect();
        assert_eq!(pods, ["stockdata-2", "stockdata-3"], "page {}", p.index);
    }
}

#[test]
fn invalid_timelines_name_the_field() {
    let err = |extra: &str| {
        sim::Scenario::parse(
            &format!("strategies = [\"sidecar\"]\n{BASE}\n{extra}"),
            "t.toml",
        )
        .expect_err("invalid")
        .to_string()
    };
    let e = err("[[timeline]]\nat = \"1s\"\nkind = \"kill-pod\"\npod = \"stockdata-9\"\n");
    assert!(
        e.contains("timeline[0].pod") && e.contains("unknown pod `stockdata-9`"),
        "{e}"
    );
    let e = err("[[timeline]]\nat = \"5s\"\nkind = \"kill-pod\"\npod = \"stockdata-0\"\n");
    assert!(
        e.contains("timeline[0].at") && e.contains("not before the end of the run"),
        "{e}"
    );
    let e = err(
        "[[timeline]]\nat = \"1s\"\nkind = \"slow\"\npod = \"stockdata-0\"\nduration = \"1s\"\n",
    );
    assert!(
        e.contains("timeline[0].factor") && e.contains("is required"),
        "{e}"
    );
    let e = err("[[timeline]]\nat = \"1s\"\nkind = \"crash-node\"\nnode = \"node-7\"\n");
    assert!(
        e.contains("timeline[0].node") && e.contains("unknown node"),
        "{e}"
    );
    let e = err(
        "[[timeline]]\nat = \"1s\"\nkind = \"kill-pod\"\npod = \"stockdata-0\"\nfactor = 2.0\n",
    );
    assert!(
        e.contains("timeline[0].factor") && e.contains("takes no such key"),
        "{e}"
    );
    let e = err(
        "[[timeline]]\nat = \"1s\"\nkind = \"slow\"\npod = \"stockdata-0\"\nfactor = 2.0\nduration = \"500ms\"\n\
         [[timeline]]\nat = \"1200ms\"\nkind = \"pause\"\npod = \"stockdata-0\"\nduration = \"100ms\"\n",
    );
    assert!(
        e.contains("timeline[1].at") && e.contains("overlaps timeline[0]"),
        "{e}"
    );
    let e =
        err("[[timeline]]\nat = \"1s\"\nkind = \"scale\"\nservice = \"stockdata\"\nreplicas = 0\n");
    assert!(e.contains("timeline[0].replicas"), "{e}");
}

#[test]
fn loss_costs_retransmission_timeouts_only_during_the_window() {
    let r = run(&format!(
        r#"strategies = ["cached-dns"]
{BASE}
[[timeline]]
at = "500ms"
kind = "loss"
nodes = ["node-1"]
from = ["node-0"]
rate = 0.2
duration = "500ms"
"#
    ));
    let s = strategy(&r, "cached-dns");
    let longest = |from, to| {
        pages_in(s, from, to)
            .iter()
            .map(|p| p.duration_ms)
            .fold(0.0, f64::max)
    };
    assert!(longest(0.0, 500.0) < 50.0, "before {}", longest(0.0, 500.0));
    // Lost segments wait a 200 ms retransmission timeout, and everything
    // behind them on the connection waits too.
    assert!(
        longest(500.0, 1000.0) >= 200.0,
        "during {}",
        longest(500.0, 1000.0)
    );
    assert!(
        longest(1300.0, 9e9) < 50.0,
        "after {}",
        longest(1300.0, 9e9)
    );
    assert_eq!(s.requests.ok, 2000, "loss delays, it does not fail");
}

#[test]
fn placement_pins_pods_to_nodes() {
    // Both replicas on node-2: a latency event on node-1 no longer matters.
    let r = run(&format!(
        r#"strategies = ["cached-dns"]
{BASE}
[cluster]
placement = {{ stockdata-0 = "node-2", stockdata-1 = "node-2" }}
[[timeline]]
at = "500ms"
kind = "latency"
nodes = ["node-1"]
add = "50ms"
duration = "500ms"
"#
    ));
    let s = strategy(&r, "cached-dns");
    assert!(s.page_loads.iter().all(|p| p.duration_ms < 50.0));
    let e = sim::Scenario::parse(
        &format!("strategies = [\"sidecar\"]\n{BASE}\n[cluster]\nplacement = {{ stockdata-0 = \"node-9\" }}\n"),
        "t.toml",
    )
    .expect_err("unknown node");
    assert!(e.to_string().contains("cluster.placement"), "{e}");
}

#[test]
fn pod_service_time_overrides_one_replica() {
    let r = run(r#"strategies = ["sidecar"]
seed = 4
[stockdata]
replicas = 2
concurrency = 100
service_time = { distribution = "constant", value = "2ms" }
pod_service_time = { stockdata-1 = { distribution = "constant", value = "30ms" } }
[load]
page_loads = 5
interval = "100ms"
"#);
    let s = strategy(&r, "sidecar:round-robin");
    let fast = s.per_replica_latency_ms["stockdata-0"];
    let slow = s.per_replica_latency_ms["stockdata-1"];
    assert!(fast.max < 10.0, "{fast:?}");
    assert!(slow.p50 >= 30.0 && slow.p50 < 40.0, "{slow:?}");
}

#[test]
fn unready_takes_a_pod_out_of_the_sidecars_endpoints_but_not_out_of_a_pinned_client() {
    // stockdata-0 fails readiness from 500 to 1000 ms: it keeps running.
    // The sidecar stops sending there (discovery removes it); the client
    // that resolved DNS once and pinned stockdata-0 keeps being served by
    // it, without one error; afterwards the sidecar balances again.
    let r = run(&format!(
        r#"strategies = ["cached-dns", "sidecar"]
{BASE}
[[timeline]]
at = "500ms"
kind = "unready"
pod = "stockdata-0"
duration = "500ms"
"#
    ));
    let dns = strategy(&r, "cached-dns");
    assert_eq!(dns.requests.errors.values().sum::<u64>(), 0);
    assert!(
        dns.page_loads
            .iter()
            .all(|p| p.per_replica.get("stockdata-0") == Some(&100)),
        "the pinned client is served by stockdata-0 throughout"
    );
    let side = strategy(&r, "sidecar:round-robin");
    assert_eq!(side.requests.errors.values().sum::<u64>(), 0);
    for p in pages_in(side, 0.0, 500.0) {
        assert_eq!(
            p.per_replica.get("stockdata-0"),
            Some(&50),
            "page {}",
            p.index
        );
    }
    // The page sent at the instant of the event races discovery's update;
    // later ones do not.
    for p in pages_in(side, 501.0, 1000.0) {
        assert_eq!(
            p.per_replica.get("stockdata-1"),
            Some(&100),
            "page {} at {} ms went to the unready pod",
            p.index,
            p.start_ms
        );
    }
    // Back in discovery, it is a new endpoint: the first page after may
    // find it still connecting (48 of 100 were seen), later ones split.
    for p in pages_in(side, 1001.0, 9e9) {
        assert_eq!(ok(p), 100, "page {}", p.index);
        assert!(
            p.per_replica.get("stockdata-0") >= Some(&40),
            "page {}",
            p.index
        );
    }
    for p in pages_in(side, 1101.0, 9e9) {
        assert_eq!(
            p.per_replica.get("stockdata-0"),
            Some(&50),
            "page {}",
            p.index
        );
    }
    // It is a pod window: a kill of the same pod inside it is refused.
    let e = sim::Scenario::parse(
        &format!(
            r#"strategies = ["sidecar"]
{BASE}
[[timeline]]
at = "500ms"
kind = "unready"
pod = "stockdata-0"
duration = "500ms"
[[timeline]]
at = "700ms"
kind = "kill-pod"
pod = "stockdata-0"
duration = "100ms"
"#
        ),
        "x.toml",
    )
    .expect_err("overlapping windows")
    .to_string();
    assert!(e.contains("overlaps timeline[0]"), "{e}");
}
